import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  asKey,
  callKeysApi,
  createKeyAs,
  keysUrl,
  type Caller,
  type KeyBody,
  type ProblemBody,
} from '../api/keys-support.ts';

const dayMs = 86_400_000;
/** Where the restricted key is used from: inside its allowlist. */
const insideAddress = '10.1.2.3';

/**
 * A management key restricted by scopes, models, addresses, limits, budget and expiry may create and change keys only
 * within its own rights, and can never lift its own restrictions. Refusals are 403 naming the field and write nothing.
 */
describe.each(testEngines)('a restricted management key on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let restricted: KeyBody & { secret: string };
  let restrictedExpiry: number;
  let asRestricted: Caller;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Acme');
    restrictedExpiry = Date.now() + dayMs;
    restricted = await createKeyAs(testApp, owner, orgId, {
      name: 'automation',
      scopes: ['chat', 'management:write'],
      allowed_models: ['gpt-test'],
      ip_allowlist: ['10.0.0.0/8'],
      rpm_limit: 100,
      tpm_limit: 10_000,
      budget_micros: 5_000_000,
      expires_at: new Date(restrictedExpiry).toISOString(),
    });
    asRestricted = asKey(restricted.secret);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const countKeys = async () =>
    (await testApp.instance.services.database.db.selectFrom('api_keys').select('id').execute()).length;
  const asRestrictedKey = (method: 'POST' | 'PATCH', url: string, body: unknown) =>
    callKeysApi(testApp, asRestricted, method, url, { body, remoteAddress: insideAddress });

  it('creates a key that inherits every restriction it does not narrow', async () => {
    const response = await asRestrictedKey('POST', keysUrl(orgId), { name: 'child', rpm_limit: 10 });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<KeyBody>()).toMatchObject({
      scopes: ['chat'],
      allowed_models: ['gpt-test'],
      ip_allowlist: ['10.0.0.0/8'],
      rpm_limit: 10,
      tpm_limit: 10_000,
      budget_micros: 5_000_000,
      expires_at: new Date(restrictedExpiry).toISOString(),
    });
  });

  it('creates a key narrower in every field', async () => {
    const response = await asRestrictedKey('POST', keysUrl(orgId), {
      name: 'narrow',
      scopes: ['chat'],
      allowed_models: ['gpt-test'],
      ip_allowlist: ['10.20.0.0/16', '10.9.9.9'],
      rpm_limit: 100,
      budget_micros: 1,
      expires_at: new Date(restrictedExpiry - 1000).toISOString(),
    });
    expect(response.statusCode, response.body).toBe(201);
  });

  it.each([
    ['a scope it lacks', { scopes: ['chat', 'embeddings'] }, 'scopes'],
    ['management rights it lacks', { scopes: ['management:read'] }, 'scopes'],
    ['every model', { allowed_models: null }, 'allowed_models'],
    ['another model', { allowed_models: ['gpt-test', 'embed-test'] }, 'allowed_models'],
    ['every address', { ip_allowlist: null }, 'ip_allowlist'],
    ['a wider range', { ip_allowlist: ['0.0.0.0/0'] }, 'ip_allowlist'],
    ['an address outside its range', { ip_allowlist: ['192.0.2.1'] }, 'ip_allowlist'],
    ['a higher rate limit', { rpm_limit: 101 }, 'rpm_limit'],
    ['no token limit', { tpm_limit: null }, 'tpm_limit'],
    ['a bigger budget', { budget_micros: 5_000_001 }, 'budget_micros'],
    ['a key that never expires', { expires_at: null }, 'expires_at'],
  ])('refuses to create a key with %s (403 naming the field, nothing written)', async (_, fields, param) => {
    const before = await countKeys();
    const response = await asRestrictedKey('POST', keysUrl(orgId), { name: 'wider', ...fields });
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json<ProblemBody>()).toMatchObject({ code: 'forbidden', param });
    expect(await countKeys()).toBe(before);
  });

  it('refuses a later expiry than its own', async () => {
    const response = await asRestrictedKey('POST', keysUrl(orgId), {
      name: 'later',
      expires_at: new Date(restrictedExpiry + dayMs).toISOString(),
    });
    expect(response.statusCode).toBe(403);
    expect(response.json<ProblemBody>().param).toBe('expires_at');
  });

  it.each([
    ['its model list', { allowed_models: null }, 'allowed_models'],
    ['its address allowlist', { ip_allowlist: null }, 'ip_allowlist'],
    ['its scopes', { scopes: ['chat', 'management:write', 'embeddings'] }, 'scopes'],
    ['its rate limit', { rpm_limit: null }, 'rpm_limit'],
    ['its budget', { budget_micros: 6_000_000 }, 'budget_micros'],
    ['its expiry', { expires_at: null }, 'expires_at'],
  ])('cannot PATCH itself to lift %s', async (_, fields, param) => {
    const response = await asRestrictedKey('PATCH', keysUrl(orgId, restricted.id), fields);
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json<ProblemBody>()).toMatchObject({ code: 'forbidden', param });
    const stored = await callKeysApi(testApp, owner, 'GET', keysUrl(orgId, restricted.id));
    expect(stored.json<KeyBody>()).toMatchObject({
      scopes: ['chat', 'management:write'],
      allowed_models: ['gpt-test'],
      ip_allowlist: ['10.0.0.0/8'],
      rpm_limit: 100,
      budget_micros: 5_000_000,
    });
  });

  it('may narrow itself, and then cannot widen back to what it had', async () => {
    const own = await createKeyAs(testApp, owner, orgId, {
      name: 'self-narrowing',
      scopes: ['chat', 'management:write'],
      ip_allowlist: ['10.0.0.0/8'],
    });
    const call = (body: unknown) =>
      callKeysApi(testApp, asKey(own.secret), 'PATCH', keysUrl(orgId, own.id), { body, remoteAddress: insideAddress });
    const narrowed = await call({ ip_allowlist: ['10.1.0.0/16'], name: 'renamed' });
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    expect(narrowed.json<KeyBody>().ip_allowlist).toEqual(['10.1.0.0/16']);
    const widened = await call({ ip_allowlist: ['10.0.0.0/8'] });
    expect(widened.statusCode).toBe(403);
    expect(widened.json<ProblemBody>().param).toBe('ip_allowlist');
  });

  it('may rename a wider key but not widen it further, and may not rotate it (the new secret would carry it all)', async () => {
    const wide = await createKeyAs(testApp, owner, orgId, { name: 'wide', allowed_models: ['gpt-test', 'embed-test'] });
    const renamed = await asRestrictedKey('PATCH', keysUrl(orgId, wide.id), { name: 'wide, renamed' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const widened = await asRestrictedKey('PATCH', keysUrl(orgId, wide.id), { allowed_models: null });
    expect(widened.statusCode).toBe(403);
    expect(widened.json<ProblemBody>().param).toBe('allowed_models');

    const before = await countKeys();
    const rotated = await asRestrictedKey('POST', keysUrl(orgId, wide.id, '/rotate'), {});
    expect(rotated.statusCode, rotated.body).toBe(403);
    expect(await countKeys()).toBe(before);
  });

  it('may rotate a key within its rights', async () => {
    const within = await asRestrictedKey('POST', keysUrl(orgId), { name: 'within' });
    const rotated = await asRestrictedKey('POST', keysUrl(orgId, within.json<KeyBody>().id, '/rotate'), {});
    expect(rotated.statusCode, rotated.body).toBe(201);
  });

  it('a person (not a key) is bound only by their role', async () => {
    const response = await callKeysApi(testApp, owner, 'POST', keysUrl(orgId), {
      body: { name: 'unrestricted', allowed_models: null, ip_allowlist: null },
    });
    expect(response.statusCode).toBe(201);
  });
});
