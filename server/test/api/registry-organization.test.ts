import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryEpochName } from '../../src/modules/registry/index.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { callApi, lastAuditEvent, problemCode, type Method } from './tenancy-support.ts';

const orgKey = 'sk-organization-upstream-key-4242';

describe('an organization model registry API', () => {
  let testApp: TestApp;
  let admin: SignedInUser;
  let owner: SignedInUser;
  let member: SignedInUser;
  let otherOwner: SignedInUser;
  let orgId: string;
  let otherOrgId: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    admin = await createSignedInUser(testApp, { platformRole: 'admin' });
    owner = await createSignedInUser(testApp);
    member = await createSignedInUser(testApp);
    otherOwner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Own Models Co');
    await addMember(testApp, orgId, member, 'member');
    otherOrgId = await createOrganization(testApp, otherOwner, 'Other Co');
    const platformProvider = await callApi(testApp, admin, 'POST', '/api/v1/providers', {
      body: { id: 'shared', type: 'openai', api_key: 'sk-platform-shared-key-0001' },
    });
    expect(platformProvider.statusCode, platformProvider.body).toBe(201);
    const platformModel = await callApi(testApp, admin, 'POST', '/api/v1/models', {
      body: { name: 'house-model', pricing: { input: '1' }, deployments: [{ provider: 'shared', model: 'gpt-x' }] },
    });
    expect(platformModel.statusCode, platformModel.body).toBe(201);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const db = () => testApp.instance.services.database.db;
  const readEpoch = async () =>
    (await db().selectFrom('cache_epochs').select('epoch').where('name', '=', registryEpochName).executeTakeFirst())
      ?.epoch ?? 0;
  const base = () => `/api/v1/organizations/${orgId}`;
  const as = (user: SignedInUser, method: Method, path: string, body?: unknown) =>
    callApi(testApp, user, method, `${base()}${path}`, body === undefined ? {} : { body });

  it('keeps tenant base URLs to public https addresses', async () => {
    for (const baseUrl of ['https://10.0.0.1/v1', 'http://1.1.1.1/v1', 'https://localhost:8443', 'https://[::1]/v1']) {
      const response = await as(owner, 'POST', '/providers', { id: 'private', type: 'openai', base_url: baseUrl });
      expect(response.statusCode, `${baseUrl}: ${response.body}`).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_request', param: 'base_url' });
    }
    expect(await db().selectFrom('providers').select('id').where('org_id', '=', orgId).execute()).toEqual([]);
  });

  it('creates its own provider with a sealed key, audited in the organization', async () => {
    const epoch = await readEpoch();
    const created = await as(owner, 'POST', '/providers', {
      id: 'own',
      type: 'openai-compatible',
      base_url: 'https://1.1.1.1/v1',
      credentials: [{ id: 'first', api_key: orgKey, weight: 3 }, { api_key: 'sk-organization-upstream-key-5353' }],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      id: 'own',
      org_id: orgId,
      source: 'database',
      credentials: [
        { id: 'default', weight: 1, hint: '5353' },
        { id: 'first', weight: 3, hint: '4242' },
      ],
    });
    expect(created.body).not.toContain(orgKey);
    expect(await readEpoch()).toBe(epoch + 1);
    const event = await lastAuditEvent(testApp, orgId, 'provider.create');
    expect(event).toMatchObject({ actor_user_id: owner.userId, target_id: 'own' });
    expect(JSON.stringify(event)).not.toContain(orgKey);
  });

  it('refuses ids and names the file or the platform already use', async () => {
    const fileProvider = await as(owner, 'POST', '/providers', { id: 'mock', type: 'openai' });
    expect(fileProvider.statusCode).toBe(409);
    expect(fileProvider.json<{ detail: string }>().detail).toContain('configuration file');
    const platformProvider = await as(owner, 'POST', '/providers', { id: 'shared', type: 'openai' });
    expect(platformProvider.statusCode).toBe(409);
    const again = await as(owner, 'POST', '/providers', { id: 'own', type: 'openai' });
    expect(again.statusCode).toBe(409);
    const fileModel = await as(owner, 'POST', '/models', {
      name: 'mine',
      aliases: ['gpt-test'],
      deployments: [{ provider: 'own', model: 'x' }],
    });
    expect(fileModel.statusCode).toBe(409);
    expect(fileModel.json<{ detail: string }>().detail).toContain('configuration file');
  });

  it('creates models on its own and platform providers, and may take a platform model name for itself', async () => {
    const created = await as(owner, 'POST', '/models', {
      name: 'house-model',
      deployments: [
        { provider: 'own', model: 'fast', priority: 1 },
        { provider: 'shared', model: 'gpt-x', priority: 2, pricing: { input: '3', output: '6' } },
      ],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'house-model', org_id: orgId, warnings: [] });
    const unpriced = await as(owner, 'POST', '/models', {
      name: 'cheap',
      deployments: [{ provider: 'own', model: 'small' }],
    });
    expect(unpriced.json()).toMatchObject({ warnings: ['no price set: requests are metered at zero cost'] });
    const list = await as(member, 'GET', '/models');
    expect(list.statusCode).toBe(200);
    expect(list.json<{ data: Array<{ name: string }> }>().data.map((model) => model.name)).toEqual([
      'cheap',
      'house-model',
    ]);
    const providers = await as(member, 'GET', '/providers');
    expect(providers.json<{ data: Array<{ id: string }> }>().data.map((provider) => provider.id)).toEqual(['own']);
  });

  it("cannot deploy on another organization's provider", async () => {
    const response = await callApi(testApp, otherOwner, 'POST', `/api/v1/organizations/${otherOrgId}/models`, {
      body: { name: 'borrowed', deployments: [{ provider: 'own', model: 'x' }] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ param: 'deployments[0].provider' });
  });

  it('lets members read and only owners and admins change', async () => {
    expect((await as(member, 'GET', '/providers/own')).statusCode).toBe(200);
    expect((await as(member, 'GET', '/providers/own/credentials')).statusCode).toBe(200);
    const denied = await as(member, 'PATCH', '/models/cheap', { strategy: 'lowest-cost' });
    expect(denied.statusCode).toBe(403);
    expect(problemCode(denied)).toBe('forbidden');
  });

  it('hands the gateway its entries with unsealed keys and routing policies', async () => {
    const settings = await callApi(testApp, owner, 'PATCH', `${base()}/settings`, {
      body: { allowed_providers: ['own', 'shared', 'mock'], default_models: ['house-model'] },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    const registry = testApp.instance.services.api.registry;
    const snapshot = await registry.loadSnapshot();
    expect(snapshot.epoch).toBe(await registry.readEpoch());
    const own = snapshot.providers.find((provider) => provider.orgId === orgId);
    expect(own).toMatchObject({ id: 'own', source: 'database', baseUrl: 'https://1.1.1.1/v1' });
    expect(own?.credentials.map((credential) => [credential.id, credential.weight, credential.apiKey])).toEqual([
      ['default', 1, 'sk-organization-upstream-key-5353'],
      ['first', 3, orgKey],
    ]);
    const houseModels = snapshot.models.filter((model) => model.name === 'house-model');
    expect(houseModels.map((model) => model.orgId)).toEqual([null, orgId]);
    expect(snapshot.orgPolicies.get(orgId)).toEqual({
      allowedProviders: ['own', 'shared', 'mock'],
      defaultModels: ['house-model'],
    });
    expect(snapshot.orgPolicies.has(otherOrgId)).toBe(false);
  });

  it('refuses allowed providers that exist nowhere, and bumps the epoch on every settings change', async () => {
    const before = await readEpoch();
    const unknown = await callApi(testApp, owner, 'PATCH', `${base()}/settings`, {
      body: { allowed_providers: ['own', 'nowhere'] },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 'invalid_request', param: 'allowed_providers[1]' });
    const elsewhere = await callApi(testApp, otherOwner, 'PATCH', `/api/v1/organizations/${otherOrgId}/settings`, {
      body: { allowed_providers: ['own'] },
    });
    expect(elsewhere.statusCode).toBe(400);
    expect(await readEpoch()).toBe(before);
    const changed = await callApi(testApp, owner, 'PATCH', `${base()}/settings`, {
      body: { default_models: [] },
    });
    expect(changed.statusCode).toBe(200);
    expect(await readEpoch()).toBe(before + 1);
  });

  it('updates and deletes its entries, 409 while a model still uses the provider', async () => {
    const renamedKey = await as(owner, 'PATCH', '/providers/own/credentials/first', {
      api_key: 'sk-new-org-key-0000-9999',
    });
    expect(renamedKey.json()).toEqual({ id: 'first', weight: 3, hint: '9999' });
    const moved = await as(owner, 'PATCH', '/providers/own', { base_url: 'https://10.1.1.1' });
    expect(moved.statusCode).toBe(400);
    const inUse = await as(owner, 'DELETE', '/providers/own');
    expect(inUse.statusCode).toBe(409);
    expect((await as(owner, 'DELETE', '/models/cheap')).statusCode).toBe(204);
    const onShared = await as(owner, 'PATCH', '/models/house-model', {
      deployments: [{ provider: 'shared', model: 'gpt-x' }],
      pricing: null,
    });
    expect(onShared.statusCode, onShared.body).toBe(200);
    expect(onShared.json()).toMatchObject({ pricing: null, warnings: [expect.any(String)] });
    expect((await as(owner, 'DELETE', '/providers/own')).statusCode).toBe(204);
    expect(await lastAuditEvent(testApp, orgId, 'provider.delete')).toMatchObject({ target_id: 'own' });
    // The platform's provider is not the organization's to delete.
    expect((await as(owner, 'DELETE', '/providers/shared')).statusCode).toBe(404);
    const platformInUse = await callApi(testApp, admin, 'DELETE', '/api/v1/providers/shared');
    expect(platformInUse.statusCode).toBe(409);
  });
});
