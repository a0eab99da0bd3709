import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInstance } from '../../src/http/create-app.ts';
import { chatWithKey, gatewayErrorCode, startSecondInstance } from '../support/second-instance.ts';
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

describe.each(testEngines)('API key lifecycle across requests and instances on %s', (engine) => {
  let testApp: TestApp;
  let world: KeysWorld;
  /** A second instance on the same database, as in a cluster behind a load balancer. */
  let other: AppInstance;
  /** The clock both instances judge expiry and rotation grace by: tests move it instead of sleeping. */
  let clock = Date.now();
  const now = () => clock;
  beforeAll(async () => {
    testApp = await startTestApp({ engine, now });
    world = await createKeysWorld(testApp);
    other = await startSecondInstance(testApp, { now });
  });
  afterAll(async () => {
    await other.close();
    await testApp.close();
  });

  it('keeps the old key working through the rotation grace period and refuses it after', async () => {
    const old = await createKeyAs(testApp, world.member, world.orgId);
    // Warm both instances' caches with the old key before rotating.
    expect((await chatWithKey(testApp.instance, old.secret)).statusCode).toBe(200);
    expect((await chatWithKey(other, old.secret)).statusCode).toBe(200);

    const rotation = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, old.id, '/rotate'), {
      body: { grace_period_seconds: 1 },
    });
    expect(rotation.statusCode).toBe(201);
    const replacement = rotation.json<KeyBody & { secret: string }>();

    expect((await chatWithKey(testApp.instance, old.secret)).statusCode).toBe(200);
    expect((await chatWithKey(testApp.instance, replacement.secret)).statusCode).toBe(200);
    expect((await chatWithKey(other, replacement.secret)).statusCode).toBe(200);

    // One millisecond before the grace period ends the old key still works; at its end it stops, on both instances.
    clock += 999;
    expect((await chatWithKey(other, old.secret)).statusCode).toBe(200);
    clock += 1;
    // The instance that rotated knows the new expiry at once; the other one still holds the warm entry until its
    // epoch poll (50 ms of real time in tests) drops it, which moving the injected clock does not hasten.
    const refusedHere = await chatWithKey(testApp.instance, old.secret);
    expect(refusedHere.statusCode).toBe(401);
    expect(gatewayErrorCode(refusedHere)).toBe('expired_api_key');
    expect(await eventually(async () => (await chatWithKey(other, old.secret)).statusCode === 401, 500)).toBe(true);
    expect(gatewayErrorCode(await chatWithKey(other, old.secret))).toBe('expired_api_key');
    for (const instance of [testApp.instance, other]) {
      expect((await chatWithKey(instance, replacement.secret)).statusCode).toBe(200);
    }
    const listed = await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, old.id));
    expect(listed.json<KeyBody>().status).toBe('expired');
  });

  it('refuses a revoked key at once on the instance that revoked it, and within a poll on the others', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect((await chatWithKey(testApp.instance, key.secret)).statusCode).toBe(200);
    expect((await chatWithKey(other, key.secret)).statusCode).toBe(200);

    const revoked = await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, key.id));
    expect(revoked.statusCode).toBe(200);

    // No waiting here: the revoking instance dropped its cache in the same request.
    const here = await chatWithKey(testApp.instance, key.secret);
    expect(here.statusCode).toBe(401);
    expect(gatewayErrorCode(here)).toBe('revoked_api_key');
    // keyRevocationPollMs is 50 in tests; allow ten polls for a slow machine.
    expect(await eventually(async () => (await chatWithKey(other, key.secret)).statusCode === 401, 500)).toBe(true);
    expect(gatewayErrorCode(await chatWithKey(other, key.secret))).toBe('revoked_api_key');
  });

  it('applies a narrowed scope or allowlist at once here and within a poll elsewhere', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect((await chatWithKey(testApp.instance, key.secret)).statusCode).toBe(200);
    expect((await chatWithKey(other, key.secret)).statusCode).toBe(200);

    const patched = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
      body: { scopes: ['embeddings'] },
    });
    expect(patched.statusCode).toBe(200);

    const here = await chatWithKey(testApp.instance, key.secret);
    expect(here.statusCode).toBe(403);
    expect(gatewayErrorCode(here)).toBe('scope_not_allowed');
    expect(await eventually(async () => (await chatWithKey(other, key.secret)).statusCode === 403, 500)).toBe(true);

    await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
      body: { scopes: ['chat'], ip_allowlist: ['192.0.2.0/24'] },
    });
    const blocked = await chatWithKey(testApp.instance, key.secret);
    expect(blocked.statusCode).toBe(403);
    expect(gatewayErrorCode(blocked)).toBe('ip_not_allowed');
  });

  it('records when a key was last used, shortly after traffic', async () => {
    const key = await createKeyAs(testApp, world.member, world.orgId);
    expect(key.last_used_at).toBeNull();
    const before = Date.now();

    expect((await chatWithKey(testApp.instance, key.secret)).statusCode).toBe(200);

    const lastUsed = async () =>
      (await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, key.id))).json<KeyBody>().last_used_at;
    expect(await eventually(async () => (await lastUsed()) !== null, 3_000)).toBe(true);
    const at = Date.parse((await lastUsed()) ?? '');
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
