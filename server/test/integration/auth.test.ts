import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRepository, KeyService, hashKeySecret } from '../../src/modules/keys/index.ts';
import { startTestApp, testKey, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { createTestKey } from '../support/test-keys.ts';

const chatPayload = { model: 'test', messages: [{ role: 'user', content: 'hello' }] };

/** Polls a condition every few milliseconds until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(testEngines)('API key authentication on %s', (engine) => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const listModels = (headers: Record<string, string>) =>
    testApp.instance.app.inject({ method: 'GET', url: '/v1/models', headers });
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const errorCode = (response: { json<Body>(): Body }) => response.json<{ error: { code: string } }>().error.code;

  it('answers a request without a key with 401 missing_api_key', async () => {
    const response = await listModels({});
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({
      error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'missing_api_key' },
    });
  });

  it('answers an unknown key with 401 invalid_api_key', async () => {
    const response = await listModels(bearer('sk-aihub-this-key-does-not-exist-000000'));
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('invalid_api_key');
  });

  it('authenticates before reading the body, so an invalid body from an unknown key is still a 401', async () => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...bearer('sk-aihub-this-key-does-not-exist-000000'), 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(response.statusCode).toBe(401);
  });

  it('accepts the key in x-api-key', async () => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-api-key': testKey, 'content-type': 'application/json' },
      payload: chatPayload,
    });
    expect(response.statusCode).toBe(200);
  });

  it('does not accept a key sent with a scheme other than Bearer', async () => {
    const response = await listModels({ authorization: `Basic ${testKey}` });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('missing_api_key');
  });

  it('answers a key that was already expired with 401 expired_api_key', async () => {
    const { secret } = await createTestKey(testApp, { expiresAt: Date.now() - 1_000 });
    const response = await listModels(bearer(secret));
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('expired_api_key');
  });

  it('rejects a cached key once it expires', async () => {
    const { secret } = await createTestKey(testApp, { expiresAt: Date.now() + 150 });
    expect((await listModels(bearer(secret))).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const response = await listModels(bearer(secret));
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe('expired_api_key');
  });

  it('rejects a warm cached key within a few poll intervals of its revocation', async () => {
    const { key, secret } = await createTestKey(testApp, {});
    expect((await listModels(bearer(secret))).statusCode).toBe(200);
    expect((await listModels(bearer(secret))).statusCode).toBe(200);
    expect(await testApp.instance.services.keys.revoke(key.id)).toBe(true);
    // keyRevocationPollMs is 50 in tests; allow ten polls for a slow machine.
    const rejected = await eventually(async () => (await listModels(bearer(secret))).statusCode === 401, 500);
    expect(rejected).toBe(true);
    expect(errorCode(await listModels(bearer(secret)))).toBe('revoked_api_key');
  });

  it('rejects a key revoked by another process through the shared database', async () => {
    const { key, secret } = await createTestKey(testApp, {});
    expect((await listModels(bearer(secret))).statusCode).toBe(200);
    const otherConnection = testApp.database.reopen();
    try {
      const otherProcessKeys = new KeyService(new KeyRepository(otherConnection.db));
      expect(await otherProcessKeys.revoke(key.id)).toBe(true);
    } finally {
      await otherConnection.close();
    }
    const rejected = await eventually(async () => (await listModels(bearer(secret))).statusCode === 401, 500);
    expect(rejected).toBe(true);
    expect(errorCode(await listModels(bearer(secret)))).toBe('revoked_api_key');
    // Other keys keep working after the cache is dropped.
    expect((await listModels(bearer(testKey))).statusCode).toBe(200);
  });

  describe('model allowlist', () => {
    let chatOnlySecret: string;
    beforeAll(async () => {
      chatOnlySecret = (await createTestKey(testApp, { allowedModels: ['gpt-test'] })).secret;
    });

    const post = (url: string, payload: unknown) =>
      testApp.instance.app.inject({
        method: 'POST',
        url,
        headers: testApp.headers(chatOnlySecret),
        payload: payload as Record<string, unknown>,
      });

    it('serves an allowed model by its name and by its alias', async () => {
      expect((await post('/v1/chat/completions', { ...chatPayload, model: 'gpt-test' })).statusCode).toBe(200);
      expect((await post('/v1/chat/completions', { ...chatPayload, model: 'test' })).statusCode).toBe(200);
    });

    it('admits a model whose allowlist names only its alias, by either name, and lists it', async () => {
      const aliasOnly = (await createTestKey(testApp, { allowedModels: ['test'] })).secret;
      for (const model of ['test', 'gpt-test']) {
        const response = await testApp.instance.app.inject({
          method: 'POST',
          url: '/v1/chat/completions',
          headers: testApp.headers(aliasOnly),
          payload: { ...chatPayload, model },
        });
        expect(response.statusCode).toBe(200);
      }
      const listed = await listModels(bearer(aliasOnly));
      expect(listed.json<{ data: Array<{ id: string }> }>().data.map((entry) => entry.id)).toEqual(['gpt-test']);
    });

    it('answers a model outside the allowlist with 403 model_not_allowed on param model', async () => {
      testApp.upstream.clearRequests();
      const response = await post('/v1/embeddings', { model: 'embed-test', input: 'hello' });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({
        error: { message: expect.any(String), type: 'permission_error', param: 'model', code: 'model_not_allowed' },
      });
      expect(testApp.upstream.requests).toHaveLength(0);
    });

    it('still answers a model that does not exist with 404', async () => {
      const response = await post('/v1/chat/completions', { ...chatPayload, model: 'no-such-model' });
      expect(response.statusCode).toBe(404);
      expect(errorCode(response)).toBe('model_not_found');
    });

    it('lists only the allowed models', async () => {
      const modelIds = (response: { json<Body>(): Body }) =>
        response.json<{ data: Array<{ id: string }> }>().data.map((model) => model.id);
      const restricted = await listModels(bearer(chatOnlySecret));
      expect(restricted.statusCode).toBe(200);
      expect(modelIds(restricted)).toEqual(['gpt-test']);
      expect(modelIds(await listModels(bearer(testKey)))).toEqual(['gpt-test', 'embed-test']);
    });

    it('retrieves an allowed model and hides a not-allowed one as 404', async () => {
      const allowed = await testApp.instance.app.inject({
        method: 'GET',
        url: '/v1/models/gpt-test',
        headers: bearer(chatOnlySecret),
      });
      expect(allowed.statusCode).toBe(200);
      expect(allowed.json()).toMatchObject({ id: 'gpt-test', object: 'model' });

      const hidden = await testApp.instance.app.inject({
        method: 'GET',
        url: '/v1/models/embed-test',
        headers: bearer(chatOnlySecret),
      });
      expect(hidden.statusCode).toBe(404);
      expect(hidden.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
    });
  });

  it('stores only hashes of key secrets, never the secrets', async () => {
    const { key, secret } = await createTestKey(testApp, { name: 'stored-shape' });
    const db = testApp.instance.services.database.db;
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(hashKeySecret(secret));
    expect(secret.startsWith(row.key_prefix)).toBe(true);
    expect(row.key_prefix.length).toBeLessThan(secret.length / 2);

    // Look through everything the database holds, not just the obvious column.
    const everything = JSON.stringify([
      await db.selectFrom('api_keys').selectAll().execute(),
      await db.selectFrom('users').selectAll().execute(),
      await db.selectFrom('usage_records').selectAll().execute(),
      await db.selectFrom('cache_epochs').selectAll().execute(),
    ]);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(testKey);
    expect(everything).toContain(hashKeySecret(testKey));
  });
});
