import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import {
  callGateway,
  chat,
  createLimitRule,
  createOrgKey,
  createTenant,
  errorOf,
  sleep,
  type Tenant,
} from './traffic-control-support.ts';

/** Token windows admitted by estimate and corrected to real usage, and rules reaching exactly the keys they name. */
describe('traffic control rules', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  async function createTeam(tenant: Tenant): Promise<string> {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: `/api/v1/organizations/${tenant.orgId}/teams`,
      headers: tenant.owner.headers,
      payload: { name: 'Platform' },
    });
    if (response.statusCode !== 201) throw new Error(`team creation failed: ${response.body}`);
    return response.json<{ id: string }>().id;
  }

  /** A limit rule created through the management API (the same instance polls at once). */
  async function addLimit(tenant: Tenant, body: Record<string, unknown>): Promise<void> {
    await createLimitRule(testApp, tenant, body);
  }

  describe('token windows', () => {
    it('admit by the estimate while a request is in flight, then count its real usage', async () => {
      const tenant = await createTenant(testApp);
      const key = await createOrgKey(testApp, tenant, { tpm_limit: 1000 });
      testApp.upstream.setOptions({ latencyMs: 600 });
      try {
        // Prompt bound (~60) + max_tokens 800 holds most of the 1,000 tokens while it runs.
        const first = chat(testApp.instance, key.secret, { max_tokens: 800 });
        await sleep(150);
        const second = await chat(testApp.instance, key.secret, { max_tokens: 800 });
        expect(second.statusCode).toBe(429);
        expect(errorOf(second).code).toBe('rate_limit_exceeded');
        expect(errorOf(second).message).toContain('tokens per minute');
        expect((await first).statusCode).toBe(200);
      } finally {
        testApp.upstream.setOptions({ latencyMs: 0 });
      }
      // The first used about 20 tokens for real: the window is corrected, and requests of the same bound fit again.
      await sleep(50);
      for (let index = 0; index < 3; index += 1) {
        const next = await chat(testApp.instance, key.secret, { max_tokens: 800 });
        expect(next.statusCode).toBe(200);
      }
    });

    it('refuse a request whose own bound exceeds the limit, saying so', async () => {
      const tenant = await createTenant(testApp);
      const key = await createOrgKey(testApp, tenant, { tpm_limit: 1000 });
      const refused = await chat(testApp.instance, key.secret, { max_tokens: 2000 });
      expect(refused.statusCode).toBe(429);
      const message = errorOf(refused).message;
      expect(message).toContain('more than the limit of 1000 tokens per minute of this API key');
      expect(message).toContain('max_tokens');
      // Nothing was taken from the window by it: a small request still passes.
      expect((await chat(testApp.instance, key.secret, { max_tokens: 16 })).statusCode).toBe(200);
    });
  });

  describe('subjects', () => {
    it('an organization rule applies to every key of the organization and to no other', async () => {
      const tenant = await createTenant(testApp);
      const other = await createTenant(testApp);
      const first = await createOrgKey(testApp, tenant);
      const second = await createOrgKey(testApp, tenant);
      const outsider = await createOrgKey(testApp, other);
      await addLimit(tenant, { subject: { type: 'organization', id: tenant.orgId }, rpm_limit: 2 });
      expect((await chat(testApp.instance, first.secret)).statusCode).toBe(200);
      const shared = await chat(testApp.instance, second.secret);
      expect(shared.statusCode).toBe(200);
      expect(shared.headers['x-ratelimit-limit-requests']).toBe('2');
      expect(shared.headers['x-ratelimit-remaining-requests']).toBe('0');
      const refused = await chat(testApp.instance, first.secret);
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused).message).toContain('the organization');
      expect((await chat(testApp.instance, second.secret)).statusCode).toBe(429);
      for (let index = 0; index < 4; index += 1) {
        const answer = await chat(testApp.instance, outsider.secret);
        expect(answer.statusCode).toBe(200);
        expect(answer.headers['x-ratelimit-limit-requests']).toBeUndefined();
      }
    });

    it('a team rule applies only to keys of that team', async () => {
      const tenant = await createTenant(testApp);
      const teamId = await createTeam(tenant);
      const teamKey = await createOrgKey(testApp, tenant, { team_id: teamId });
      const plainKey = await createOrgKey(testApp, tenant);
      await addLimit(tenant, { subject: { type: 'team', id: teamId }, rpm_limit: 1 });
      expect((await chat(testApp.instance, teamKey.secret)).statusCode).toBe(200);
      const refused = await chat(testApp.instance, teamKey.secret);
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused).message).toContain(`team ${teamId}`);
      for (let index = 0; index < 3; index += 1) {
        expect((await chat(testApp.instance, plainKey.secret)).statusCode).toBe(200);
      }
    });

    it("a user rule applies only to that user's keys in that organization", async () => {
      const tenant = await createTenant(testApp);
      const member = await createSignedInUser(testApp);
      await addMember(testApp, tenant.orgId, member, 'member');
      const memberKey = await createOrgKey(testApp, tenant, {}, member);
      const ownerKey = await createOrgKey(testApp, tenant);
      // The same user's key in an organization of their own.
      const elsewhere = { owner: member, orgId: await createOrganization(testApp, member, 'Elsewhere') };
      const memberElsewhereKey = await createOrgKey(testApp, elsewhere);
      await addLimit(tenant, { subject: { type: 'user', id: member.userId }, rpm_limit: 1 });
      expect((await chat(testApp.instance, memberKey.secret)).statusCode).toBe(200);
      const refused = await chat(testApp.instance, memberKey.secret);
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused).message).toContain(`user ${member.userId}`);
      for (let index = 0; index < 3; index += 1) {
        expect((await chat(testApp.instance, ownerKey.secret)).statusCode).toBe(200);
        expect((await chat(testApp.instance, memberElsewhereKey.secret)).statusCode).toBe(200);
      }
    });

    it('a per-model rule applies to that model by name or alias, and not to other models', async () => {
      const tenant = await createTenant(testApp);
      const key = await createOrgKey(testApp, tenant);
      await addLimit(tenant, { subject: { type: 'organization', id: tenant.orgId }, model: 'gpt-test', rpm_limit: 2 });
      expect((await chat(testApp.instance, key.secret, { model: 'test' })).statusCode).toBe(200);
      expect((await chat(testApp.instance, key.secret, { model: 'gpt-test' })).statusCode).toBe(200);
      const refused = await chat(testApp.instance, key.secret, { model: 'test' });
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused).message).toContain('(model gpt-test)');
      for (let index = 0; index < 3; index += 1) {
        const embedding = await callGateway(testApp.instance, key.secret, {
          path: '/v1/embeddings',
          body: { model: 'embed-test', input: 'hello' },
        });
        expect(embedding.statusCode).toBe(200);
        expect(embedding.headers['x-ratelimit-limit-requests']).toBeUndefined();
      }
    });

    it('a per-model rule written with an alias applies to requests naming the model', async () => {
      const tenant = await createTenant(testApp);
      const key = await createOrgKey(testApp, tenant);
      await addLimit(tenant, { subject: { type: 'organization', id: tenant.orgId }, model: 'test', rpm_limit: 1 });
      expect((await chat(testApp.instance, key.secret, { model: 'gpt-test' })).statusCode).toBe(200);
      expect((await chat(testApp.instance, key.secret, { model: 'gpt-test' })).statusCode).toBe(429);
      const embedding = await callGateway(testApp.instance, key.secret, {
        path: '/v1/embeddings',
        body: { model: 'embed-test', input: 'hello' },
      });
      expect(embedding.statusCode).toBe(200);
    });
  });
});
