import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppInstance } from '../../src/http/create-app.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  callKeysApi,
  createKeyAs,
  createKeysWorld,
  eventually,
  keysUrl,
  type KeyBody,
  type KeysWorld,
} from './keys-support.ts';

const chatPayload = { model: 'test', messages: [{ role: 'user', content: 'hello' }] };

describe.each(testEngines)('API key lifecycle across requests and instances on %s', (engine) => {
  let testApp: TestApp;
  let world: KeysWorld;
  /** A second instance on the same database, as in a cluster behind a load balancer. */
  let other: AppInstance;
  let otherDataDir: string;
  /** The clock both instances judge expiry and rotation grace by: tests move it instead of sleeping. */
  let clock = Date.now();
  const now = () => clock;
  beforeAll(async () => {
    testApp = await startTestApp({ engine, now });
    world = await createKeysWorld(testApp);
    otherDataDir = mkdtempSync(path.join(tmpdir(), 'aihub-other-instance-'));
    other = await createApp(
      { ...testApp.config, dataDir: otherDataDir },
      { database: testApp.database.reopen(), logger: false, now },
    );
  });
  afterAll(async () => {
    await other.close();
    await testApp.close();
    rmSync(otherDataDir, { recursive: true, force: true });
  });

  const chat = (instance: AppInstance, secret: string) =>
    instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: chatPayload,
    });
  const errorCode = (response: { json<Body>(): Body }) => response.json<{ error: { code: string } }>().error.code;

  it('keeps the old key working through the rotation grace period and refuses it after', async () => {
    const old = await createKeyAs(testApp, world.member, world.orgId);
    // Warm both instances' caches with the old key before rotating.
    expect((await chat(testApp.instance, old.secret)).statusCode).toBe(200);
    expect((await chat(other, old.secret)).statusCode).toBe(200);

    const rotation = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, old.id, '/rotate'), {
      body: { grace_period_seconds: 1 },
    });
    expect(rotation.statusCode).toBe(201);
    const replacement = rotation.json<KeyBody & { secret: string }>();

    expect((await chat(testApp.instance, old.secret)).statusCode).toBe(200);
    expect((await chat(testApp.instance, replacement.secret)).statusCode).toBe(200);
    expect((await chat(other, replacement.secret)).statusCode).toBe(200);

    // One millisecond before the grace period ends the old key still works; at its end it stops, on both instances.
    clock += 999;
    expect((await chat(other, old.secret)).statusCode).toBe(200);
    clock += 1;
    // The instance that rotated knows the new expiry at once; the other one still holds the warm entry until its
    // epoch poll (50 ms of real time in tests) drops it, which moving the injected clock does not hasten.
    const refusedHere = await chat(testApp.instance, old.secret);
    expect(refusedHere.statusCode).toBe(401);
    expect(errorCode(refusedHere)).toBe('expired_api_key');
    expect(await eventually(async () => (await chat(other, old.secret)).statusCode === 401, 500)).toBe(true);
    expect(errorCode(await chat(other, old.secret))).toBe('expired_api_key');
    for (const instance of [testApp.instance, other]) {
      expect((await chat(instance, replacement.secret)).statusCode).toBe(200);
    }
    const listed = await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, old.id));
    expect(listed.json<KeyBody>().status).toBe('expired');
  });

  it('refuses a revoked key at once on the instance that revoked it, and within a poll on the others', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);
    expect((await chat(other, key.secret)).statusCode).toBe(200);

    const revoked = await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, key.id));
    expect(revoked.statusCode).toBe(200);

    // No waiting here: the revoking instance dropped its cache in the same request.
    const here = await chat(testApp.instance, key.secret);
    expect(here.statusCode).toBe(401);
    expect(errorCode(here)).toBe('revoked_api_key');
    // keyRevocationPollMs is 50 in tests; allow ten polls for a slow machine.
    expect(await eventually(async () => (await chat(other, key.secret)).statusCode === 401, 500)).toBe(true);
    expect(errorCode(await chat(other, key.secret))).toBe('revoked_api_key');
  });

  it('applies a narrowed scope or allowlist at once here and within a poll elsewhere', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);
    expect((await chat(other, key.secret)).statusCode).toBe(200);

    const patched = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
      body: { scopes: ['embeddings'] },
    });
    expect(patched.statusCode).toBe(200);

    const here = await chat(testApp.instance, key.secret);
    expect(here.statusCode).toBe(403);
    expect(errorCode(here)).toBe('scope_not_allowed');
    expect(await eventually(async () => (await chat(other, key.secret)).statusCode === 403, 500)).toBe(true);

    await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
      body: { scopes: ['chat'], ip_allowlist: ['192.0.2.0/24'] },
    });
    const blocked = await chat(testApp.instance, key.secret);
    expect(blocked.statusCode).toBe(403);
    expect(errorCode(blocked)).toBe('ip_not_allowed');
  });

  it('records when a key was last used, shortly after traffic', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect(key.last_used_at).toBeNull();
    const before = Date.now();

    expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);

    const lastUsed = async () =>
      (await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, key.id))).json<KeyBody>().last_used_at;
    expect(await eventually(async () => (await lastUsed()) !== null, 3_000)).toBe(true);
    const at = Date.parse((await lastUsed()) ?? '');
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
