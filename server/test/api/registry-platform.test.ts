import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryEpochName } from '../../src/modules/registry/index.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, problemCode } from './tenancy-support.ts';

const secretKey = 'sk-platform-upstream-secret-9f3a';

describe.each(testEngines)('the platform model registry API on %s', (engine) => {
  let testApp: TestApp;
  let admin: SignedInUser;
  let orgOwner: SignedInUser;
  let orgId: string;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    admin = await createSignedInUser(testApp, { platformRole: 'admin' });
    orgOwner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, orgOwner, 'Registry Co');
  });
  afterAll(async () => {
    await testApp.close();
  });

  const db = () => testApp.instance.services.database.db;
  const readEpoch = async () =>
    (await db().selectFrom('cache_epochs').select('epoch').where('name', '=', registryEpochName).executeTakeFirst())
      ?.epoch ?? 0;
  const platformEvents = async (action: string) =>
    db()
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', 'is', null)
      .where('action', '=', action)
      .orderBy('id')
      .execute();
  const asAdmin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
    callApi(testApp, admin, method, url, body === undefined ? {} : { body });

  it('creates a provider with a sealed key, never returning or auditing the key, and bumps the epoch', async () => {
    const epoch = await readEpoch();
    const created = await asAdmin('POST', '/api/v1/providers', {
      id: 'upstream-a',
      type: 'openai-compatible',
      base_url: 'http://10.0.0.5:8000/v1/',
      api_key: secretKey,
      headers: { 'x-tenant': 'hidden-header-value' },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      id: 'upstream-a',
      type: 'openai-compatible',
      base_url: 'http://10.0.0.5:8000/v1',
      header_names: ['x-tenant'],
      credentials: [{ id: 'default', weight: 1, hint: '9f3a' }],
      org_id: null,
      source: 'database',
    });
    expect(created.body).not.toContain(secretKey);
    expect(created.body).not.toContain('hidden-header-value');
    expect(await readEpoch()).toBe(epoch + 1);

    const rows = await db().selectFrom('provider_credentials').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.api_key_sealed).toMatch(/^v1:/);
    expect(JSON.stringify(rows)).not.toContain(secretKey);
    const [event] = await platformEvents('provider.create');
    expect(event).toMatchObject({ actor_user_id: admin.userId, target_type: 'provider', target_id: 'upstream-a' });
    expect(JSON.stringify(event)).not.toContain(secretKey);
    expect(JSON.stringify(event)).not.toContain('hidden-header-value');
  });

  it('lists file entries as read-only beside stored ones, and pages by id', async () => {
    const list = await asAdmin('GET', '/api/v1/providers');
    expect(list.statusCode).toBe(200);
    const body = list.json<{ data: Array<{ id: string; source: string }> }>();
    expect(body.data.map((provider) => [provider.id, provider.source])).toEqual([
      ['mock', 'file'],
      ['upstream-a', 'database'],
    ]);
    const first = await asAdmin('GET', '/api/v1/providers?limit=1');
    const firstPage = first.json<{ data: Array<{ id: string }>; next_cursor: string }>();
    expect(firstPage.data.map((provider) => provider.id)).toEqual(['mock']);
    const second = await asAdmin('GET', `/api/v1/providers?limit=1&cursor=${firstPage.next_cursor}`);
    expect(second.json()).toMatchObject({ data: [{ id: 'upstream-a' }], next_cursor: null });
    expect((await asAdmin('GET', '/api/v1/providers/mock')).json()).toMatchObject({ id: 'mock', source: 'file' });
  });

  it('refuses to change, delete or shadow what the file defines (409)', async () => {
    for (const [method, url, body] of [
      ['POST', '/api/v1/providers', { id: 'mock', type: 'openai', api_key: secretKey }],
      ['PATCH', '/api/v1/providers/mock', { max_connections: 8 }],
      ['DELETE', '/api/v1/providers/mock', undefined],
      ['POST', '/api/v1/providers/mock/credentials', { api_key: secretKey }],
      ['POST', '/api/v1/models', { name: 'gpt-test', deployments: [{ provider: 'upstream-a', model: 'x' }] }],
      ['POST', '/api/v1/models', { name: 'other', aliases: ['test'], deployments: [{ provider: 'mock', model: 'x' }] }],
      ['PATCH', '/api/v1/models/gpt-test', { strategy: 'lowest-cost' }],
      ['DELETE', '/api/v1/models/embed-test', undefined],
    ] as const) {
      const response = await asAdmin(method, url, body);
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(409);
      expect(response.json<{ detail: string }>().detail).toContain('configuration file');
    }
  });

  it('creates, reads, updates and deletes a model, warning while it has no price', async () => {
    const epoch = await readEpoch();
    const created = await asAdmin('POST', '/api/v1/models', {
      name: 'chat-a',
      aliases: ['a'],
      deployments: [{ provider: 'upstream-a', model: 'upstream-chat', weight: 3 }],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'chat-a',
      kind: 'chat',
      aliases: ['a'],
      pricing: null,
      deployments: [{ provider: 'upstream-a', model: 'upstream-chat', weight: 3, priority: 1, pricing: null }],
      strategy: 'weighted',
      source: 'database',
      warnings: ['no price set: requests are metered at zero cost'],
    });
    expect(await readEpoch()).toBe(epoch + 1);
    expect((await asAdmin('GET', '/api/v1/models/chat-a')).json()).toMatchObject({ warnings: [expect.any(String)] });

    const priced = await asAdmin('PATCH', '/api/v1/models/chat-a', {
      pricing: { input: '0.50', output: 1.5 },
      fallbacks: { unavailable: ['gpt-test'] },
    });
    expect(priced.statusCode, priced.body).toBe(200);
    expect(priced.json()).toMatchObject({
      pricing: { input: '0.5', output: '1.5', cached_input: '0.5', per_request: '0' },
      fallbacks: { unavailable: ['gpt-test'] },
      warnings: [],
    });
    const [update] = await platformEvents('model.update');
    expect(update).toMatchObject({ target_id: 'chat-a' });

    const list = await asAdmin('GET', '/api/v1/models');
    expect(list.json<{ data: Array<{ name: string }> }>().data.map((model) => model.name)).toEqual([
      'chat-a',
      'embed-test',
      'gpt-test',
    ]);
    const deleted = await asAdmin('DELETE', '/api/v1/models/chat-a');
    expect(deleted.statusCode).toBe(204);
    expect((await asAdmin('GET', '/api/v1/models/chat-a')).statusCode).toBe(404);
    expect(await platformEvents('model.delete')).toHaveLength(1);
  });

  it('addresses models whose names hold a slash, URL-encoded', async () => {
    const created = await asAdmin('POST', '/api/v1/models', {
      name: 'meta/llama-3',
      pricing: { input: '0.1' },
      deployments: [{ provider: 'mock', model: 'llama' }],
    });
    expect(created.statusCode, created.body).toBe(201);
    const found = await asAdmin('GET', '/api/v1/models/meta%2Fllama-3');
    expect(found.statusCode, found.body).toBe(200);
    expect(found.json()).toMatchObject({ name: 'meta/llama-3', warnings: [] });
    expect((await asAdmin('DELETE', '/api/v1/models/meta%2Fllama-3')).statusCode).toBe(204);
  });

  it('answers 400 naming the field for unknown providers, zero weights, cycles and bad prices', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 'm1', deployments: [{ provider: 'nowhere', model: 'x' }] }, 'deployments[0].provider'],
      [{ name: 'm2', deployments: [{ provider: 'mock', model: 'x', weight: 0 }] }, 'deployments'],
      [
        { name: 'm3', deployments: [{ provider: 'mock', model: 'x' }], fallbacks: { unavailable: ['missing'] } },
        'fallbacks.unavailable[0]',
      ],
      [{ name: 'm4', deployments: [{ provider: 'mock', model: 'x' }], pricing: { input: 1e-7 } }, 'pricing.input'],
    ];
    for (const [body, param] of cases) {
      const response = await asAdmin('POST', '/api/v1/models', body);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_request', param });
    }
    const first = await asAdmin('POST', '/api/v1/models', {
      name: 'loop-a',
      deployments: [{ provider: 'mock', model: 'x' }],
    });
    expect(first.statusCode, first.body).toBe(201);
    const second = await asAdmin('POST', '/api/v1/models', {
      name: 'loop-b',
      deployments: [{ provider: 'mock', model: 'x' }],
      fallbacks: { unavailable: ['loop-a'] },
    });
    expect(second.statusCode, second.body).toBe(201);
    const cycle = await asAdmin('PATCH', '/api/v1/models/loop-a', { fallbacks: { unavailable: ['loop-b'] } });
    expect(cycle.statusCode, cycle.body).toBe(400);
    expect(cycle.json()).toMatchObject({ param: 'fallbacks' });
    // loop-b still falls back to loop-a: deleting it would break loop-b.
    const inUse = await asAdmin('DELETE', '/api/v1/models/loop-a');
    expect(inUse.statusCode, inUse.body).toBe(409);
    const duplicate = await asAdmin('POST', '/api/v1/models', {
      name: 'loop-c',
      aliases: ['loop-a'],
      deployments: [{ provider: 'mock', model: 'x' }],
    });
    expect(duplicate.statusCode, duplicate.body).toBe(409);
  });

  it('answers 409 for a change that leaves a model without deployments or a provider', async () => {
    const created = await asAdmin('POST', '/api/v1/models', {
      name: 'uses-a',
      deployments: [{ provider: 'upstream-a', model: 'x' }],
    });
    expect(created.statusCode, created.body).toBe(201);
    const noDeployment = await asAdmin('PATCH', '/api/v1/models/uses-a', { deployments: [] });
    expect(noDeployment.statusCode, noDeployment.body).toBe(409);
    const providerInUse = await asAdmin('DELETE', '/api/v1/providers/upstream-a');
    expect(providerInUse.statusCode, providerInUse.body).toBe(409);
    expect(problemCode(providerInUse)).toBe('conflict');
    expect((await asAdmin('DELETE', '/api/v1/models/uses-a')).statusCode).toBe(204);
  });

  it('manages a credential pool without ever returning a key', async () => {
    const added = await asAdmin('POST', '/api/v1/providers/upstream-a/credentials', {
      id: 'second',
      api_key: 'sk-second-upstream-key-7777',
      weight: 2,
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toEqual({ id: 'second', weight: 2, hint: '7777' });
    const zero = await asAdmin('PATCH', '/api/v1/providers/upstream-a/credentials/default', { weight: 0 });
    expect(zero.statusCode).toBe(200);
    const allZero = await asAdmin('PATCH', '/api/v1/providers/upstream-a/credentials/second', { weight: 0 });
    expect(allZero.statusCode, allZero.body).toBe(400);
    const lastWeighted = await asAdmin('DELETE', '/api/v1/providers/upstream-a/credentials/second');
    expect(lastWeighted.statusCode, lastWeighted.body).toBe(409);
    const rekeyed = await asAdmin('PATCH', '/api/v1/providers/upstream-a/credentials/second', {
      api_key: 'sk-rotated-upstream-key-8888',
    });
    expect(rekeyed.json()).toEqual({ id: 'second', weight: 2, hint: '8888' });
    const list = await asAdmin('GET', '/api/v1/providers/upstream-a/credentials');
    expect(list.json()).toEqual({
      data: [
        { id: 'default', weight: 0, hint: '9f3a' },
        { id: 'second', weight: 2, hint: '8888' },
      ],
    });
    expect(list.body).not.toContain('sk-');
    const snapshot = await testApp.instance.services.api.registry.loadSnapshot();
    const provider = snapshot.providers.find((entry) => entry.id === 'upstream-a');
    expect(provider?.credentials.map((credential) => credential.apiKey)).toEqual([
      secretKey,
      'sk-rotated-upstream-key-8888',
    ]);
    const events = await db().selectFrom('audit_events').selectAll().where('target_type', '=', 'provider').execute();
    expect(JSON.stringify(events)).not.toContain('sk-');
    expect((await asAdmin('DELETE', '/api/v1/providers/upstream-a/credentials/default')).statusCode).toBe(204);
    expect((await asAdmin('DELETE', '/api/v1/providers/upstream-a/credentials/nope')).statusCode).toBe(404);
  });

  it('updates a provider partially and deletes it once no model uses it', async () => {
    const updated = await asAdmin('PATCH', '/api/v1/providers/upstream-a', {
      max_connections: 16,
      timeouts: { connect_ms: 2000 },
      headers: null,
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ max_connections: 16, header_names: [], timeouts: { connect_ms: 2000 } });
    const badPreset = await asAdmin('PATCH', '/api/v1/providers/upstream-a', { preset: 'no-such-preset' });
    expect(badPreset.statusCode).toBe(400);
    expect(badPreset.json()).toMatchObject({ param: 'preset' });
    expect((await asAdmin('DELETE', '/api/v1/providers/upstream-a')).statusCode).toBe(204);
    expect((await asAdmin('GET', '/api/v1/providers/upstream-a')).statusCode).toBe(404);
    expect(await db().selectFrom('provider_credentials').selectAll().execute()).toEqual([]);
  });

  it('answers a retried creation with an Idempotency-Key once, without creating twice or storing the key', async () => {
    const send = () =>
      callApi(testApp, admin, 'POST', '/api/v1/providers', {
        body: { id: 'retried', type: 'openai', api_key: 'sk-retried-upstream-key-1234' },
        headers: { 'idempotency-key': 'registry-retry-1' },
      });
    const first = await send();
    expect(first.statusCode, first.body).toBe(201);
    const again = await send();
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toMatchObject({ id: 'retried', source: 'database' });
    const stored = await db().selectFrom('idempotency_records').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain('sk-retried-upstream-key-1234');
    expect(await db().selectFrom('providers').select('id').where('id', '=', 'retried').execute()).toHaveLength(1);
    expect((await asAdmin('DELETE', '/api/v1/providers/retried')).statusCode).toBe(204);
  });

  it('is for platform admins only: an organization owner gets 403 and nothing is written', async () => {
    const before = await readEpoch();
    for (const [method, url, body] of [
      ['GET', '/api/v1/providers', undefined],
      ['POST', '/api/v1/providers', { id: 'sneaky', type: 'openai', api_key: secretKey }],
      ['GET', '/api/v1/models', undefined],
      ['POST', '/api/v1/models', { name: 'sneaky', deployments: [{ provider: 'mock', model: 'x' }] }],
    ] as const) {
      const response = await callApi(testApp, orgOwner, method, url, body === undefined ? {} : { body });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
    }
    expect(await readEpoch()).toBe(before);
    expect(orgId).toBeTruthy();
  });
});
