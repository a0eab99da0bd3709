import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerKeyAuthentication } from '../../src/gateway/authenticate.ts';
import { KeyAuthenticator } from '../../src/gateway/key-authenticator.ts';
import { assertKeyAllowedFrom, endpointScopes } from '../../src/gateway/key-policy.ts';
import { keyScopes, type KeyPrincipal, type KeyScope } from '../../src/modules/keys/index.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { createTestKey } from '../support/test-keys.ts';

const chatMessages = [{ role: 'user', content: 'hello' }];

/** Every gateway endpoint, the scope it needs, and a request that succeeds with that scope. */
const endpoints: ReadonlyArray<{
  name: string;
  scope: KeyScope;
  method: 'GET' | 'POST';
  url: string;
  payload?: Record<string, unknown>;
  anthropic?: boolean;
}> = [
  {
    name: 'chat completions',
    scope: 'chat',
    method: 'POST',
    url: '/v1/chat/completions',
    payload: { model: 'test', messages: chatMessages },
  },
  {
    name: 'messages',
    scope: 'chat',
    method: 'POST',
    url: '/v1/messages',
    payload: { model: 'test', max_tokens: 16, messages: chatMessages },
    anthropic: true,
  },
  {
    name: 'count_tokens',
    scope: 'chat',
    method: 'POST',
    url: '/v1/messages/count_tokens',
    payload: { model: 'test', messages: chatMessages },
    anthropic: true,
  },
  {
    name: 'embeddings',
    scope: 'embeddings',
    method: 'POST',
    url: '/v1/embeddings',
    payload: { model: 'embed-test', input: 'hello' },
  },
  { name: 'model list', scope: 'models', method: 'GET', url: '/v1/models' },
  { name: 'one model', scope: 'models', method: 'GET', url: '/v1/models/gpt-test' },
];

describe('gateway key policy', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  const send = (endpoint: (typeof endpoints)[number], secret: string, remoteAddress?: string) =>
    testApp.instance.app.inject({
      method: endpoint.method,
      url: endpoint.url,
      headers: {
        authorization: `Bearer ${secret}`,
        ...(endpoint.payload ? { 'content-type': 'application/json' } : {}),
        ...(endpoint.anthropic ? { 'anthropic-version': '2023-06-01' } : {}),
      },
      ...(endpoint.payload ? { payload: endpoint.payload } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
    });

  describe('scopes', () => {
    it.each(endpoints.map((endpoint) => [endpoint.name, endpoint] as const))(
      '%s answers 403 scope_not_allowed to a key with every other scope, and serves one with its scope',
      async (_name, endpoint) => {
        const without = await createTestKey(testApp, { scopes: keyScopes.filter((scope) => scope !== endpoint.scope) });
        const only = await createTestKey(testApp, { scopes: [endpoint.scope] });
        testApp.upstream.clearRequests();

        const refused = await send(endpoint, without.secret);

        expect(refused.statusCode).toBe(403);
        if (endpoint.anthropic) {
          expect(refused.json()).toEqual({
            type: 'error',
            error: { type: 'permission_error', message: expect.stringContaining(`"${endpoint.scope}"`) },
          });
        } else {
          expect(refused.json()).toEqual({
            error: {
              message: expect.stringContaining(`"${endpoint.scope}"`),
              type: 'permission_error',
              param: null,
              code: 'scope_not_allowed',
            },
          });
        }
        expect(testApp.upstream.requests).toHaveLength(0);
        expect((await send(endpoint, only.secret)).statusCode).toBe(200);
      },
    );

    it('checks the scope before reading the body, so a refused key cannot make us parse it', async () => {
      const modelsOnly = await createTestKey(testApp, { scopes: ['models'] });
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${modelsOnly.secret}`, 'content-type': 'application/json' },
        payload: '{not json',
      });
      expect(response.statusCode).toBe(403);
      expect(response.json<{ error: { code: string } }>().error.code).toBe('scope_not_allowed');
    });

    it('refuses a management-only key on every gateway endpoint', async () => {
      const management = await createTestKey(testApp, { scopes: ['management:read', 'management:write'] });
      for (const endpoint of endpoints) expect((await send(endpoint, management.secret)).statusCode).toBe(403);
    });

    it('gives keys made before scopes existed (scopes null) the gateway scopes', async () => {
      const legacy = await createTestKey(testApp, {});
      await testApp.instance.services.database.db
        .updateTable('api_keys')
        .set({ scopes: null })
        .where('id', '=', legacy.key.id)
        .execute();
      for (const endpoint of endpoints) expect((await send(endpoint, legacy.secret)).statusCode).toBe(200);
    });

    it('has a scope for every gateway route, and refuses to start with a route that has none', async () => {
      for (const endpoint of endpoints) {
        expect(endpointScopes[endpoint.url.replace('gpt-test', ':model')]).toBe(endpoint.scope);
      }
      expect(Object.keys(endpointScopes)).toHaveLength(endpoints.length);

      const app = Fastify({ logger: false });
      const authenticator = new KeyAuthenticator(
        { lookupByHash: async () => ({ status: 'unknown' }), readRevocationEpoch: async () => 0 },
        { revocationPollMs: 1000 },
      );
      const registration = app.register(async (v1) => {
        registerKeyAuthentication(v1, authenticator);
        v1.get('/v1/unscoped', async () => ({}));
      });
      await expect(registration).rejects.toThrow(/\/v1\/unscoped needs an entry in endpointScopes/);
      await app.close().catch(() => undefined);
    });
  });

  describe('IP allowlist', () => {
    const models = endpoints.find((endpoint) => endpoint.url === '/v1/models')!;
    const errorCode = (response: { json<Body>(): Body }) => response.json<{ error: { code: string } }>().error.code;

    it('serves addresses inside an IPv4 range or equal to an address, and refuses others with 403 ip_not_allowed', async () => {
      const { secret } = await createTestKey(testApp, { ipAllowlist: ['203.0.113.0/24', '198.51.100.7'] });

      for (const address of ['203.0.113.1', '203.0.113.254', '198.51.100.7', '::ffff:203.0.113.9']) {
        expect((await send(models, secret, address)).statusCode, address).toBe(200);
      }
      for (const address of ['203.0.114.1', '198.51.100.8', '127.0.0.1', '2001:db8::1']) {
        const refused = await send(models, secret, address);
        expect(refused.statusCode, address).toBe(403);
        expect(errorCode(refused)).toBe('ip_not_allowed');
      }
    });

    it('serves addresses inside an IPv6 range and refuses others', async () => {
      const { secret } = await createTestKey(testApp, { ipAllowlist: ['2001:db8:abcd::/48', '::1'] });

      for (const address of ['2001:db8:abcd::1', '2001:DB8:ABCD:FFFF::9', '::1']) {
        expect((await send(models, secret, address)).statusCode, address).toBe(200);
      }
      for (const address of ['2001:db8:abce::1', '127.0.0.1', '::2']) {
        expect((await send(models, secret, address)).statusCode, address).toBe(403);
      }
    });

    it('checks the address on every endpoint, and before the scope', async () => {
      const { secret } = await createTestKey(testApp, { ipAllowlist: ['10.0.0.0/8'], scopes: ['models'] });
      for (const endpoint of endpoints) {
        const refused = await send(endpoint, secret, '192.0.2.1');
        expect(refused.statusCode).toBe(403);
        if (!endpoint.anthropic) expect(errorCode(refused)).toBe('ip_not_allowed');
      }
    });

    it('lets a key without an allowlist be used from anywhere', async () => {
      const { secret } = await createTestKey(testApp, {});
      for (const address of ['192.0.2.1', '2001:db8::1', '127.0.0.1']) {
        expect((await send(models, secret, address)).statusCode).toBe(200);
      }
    });

    it('also guards management calls made with the key', async () => {
      const { secret } = await createTestKey(testApp, {
        scopes: ['management:read'],
        ipAllowlist: ['192.0.2.0/24'],
      });
      const call = (remoteAddress: string) =>
        testApp.instance.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: { authorization: `Bearer ${secret}` },
          remoteAddress,
        });
      expect((await call('192.0.2.10')).statusCode).toBe(200);
      const refused = await call('198.51.100.1');
      expect(refused.statusCode).toBe(403);
      expect(refused.json<{ code: string }>().code).toBe('ip_not_allowed');
    });

    it('compiles an allowlist once per principal and answers each check without parsing', () => {
      const principal: KeyPrincipal = {
        keyId: 'k',
        userId: 'u',
        orgId: null,
        teamId: null,
        allowedModels: null,
        scopes: new Set(['models']),
        ipAllowlist: Array.from({ length: 100 }, (_, index) => `10.${index}.0.0/16`),
        expiresAt: null,
        limits: { rpmLimit: null, tpmLimit: null, concurrencyLimit: null, budgetMicros: null, budgetPeriod: 'total' },
      };
      assertKeyAllowedFrom(principal, '10.99.1.1');
      const started = performance.now();
      for (let index = 0; index < 10_000; index += 1) assertKeyAllowedFrom(principal, '10.42.7.7');
      const perCheckMs = (performance.now() - started) / 10_000;
      // Generous bound for slow machines; re-parsing 100 entries per check would cost far more.
      expect(perCheckMs).toBeLessThan(0.05);
      expect(() => assertKeyAllowedFrom(principal, '11.0.0.1')).toThrow(/may not be used from 11.0.0.1/);
      expect(() => assertKeyAllowedFrom(principal, 'not-an-address')).toThrow(/may not be used/);
    });
  });
});
