import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInstance } from '../../src/http/create-app.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { chatWithKey, gatewayErrorCode, startSecondInstance } from '../support/second-instance.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callKeysApi, createKeyAs, eventually, keysUrl } from '../api/keys-support.ts';

/**
 * A key never outlives what authorized it. Each rule is checked through the gateway on two instances sharing one
 * database: refused at once on the instance that made the change, and within a revocation poll on the other.
 *
 * - a deleted team takes its keys with it;
 * - a member removed from a team loses their keys of that team;
 * - a member moved to a role that may not hold keys (viewer) loses their keys of the organization;
 * - a disabled user's keys are refused while the account is disabled.
 */
describe.each(testEngines)('keys end with what authorized them, on %s', (engine) => {
  let testApp: TestApp;
  let other: AppInstance;
  /** The clock both instances judge keys by; moved by the tests instead of sleeping. */
  let clock = Date.now();
  const now = () => clock;

  beforeAll(async () => {
    testApp = await startTestApp({ engine, now });
    other = await startSecondInstance(testApp, { now });
  });
  afterAll(async () => {
    await other.close();
    await testApp.close();
  });

  /** Both instances serve the key (and have it cached). */
  async function expectServed(secret: string): Promise<void> {
    expect((await chatWithKey(testApp.instance, secret)).statusCode).toBe(200);
    expect((await chatWithKey(other, secret)).statusCode).toBe(200);
  }

  /** Refused at once here, and within a few polls (50 ms in tests) on the other instance. */
  async function expectRefusedEverywhere(secret: string, code = 'revoked_api_key'): Promise<void> {
    const here = await chatWithKey(testApp.instance, secret);
    expect(here.statusCode).toBe(401);
    expect(gatewayErrorCode(here)).toBe(code);
    expect(await eventually(async () => (await chatWithKey(other, secret)).statusCode === 401, 1_000)).toBe(true);
    expect(gatewayErrorCode(await chatWithKey(other, secret))).toBe(code);
  }

  async function organization(): Promise<{ owner: SignedInUser; orgId: string; base: string }> {
    const owner = await createSignedInUser(testApp);
    const orgId = await createOrganization(testApp, owner, `Lifetime ${engine}`);
    return { owner, orgId, base: `/api/v1/organizations/${orgId}` };
  }

  async function createTeam(owner: SignedInUser, base: string, name: string): Promise<string> {
    const team = await callKeysApi(testApp, owner, 'POST', `${base}/teams`, { body: { name } });
    expect(team.statusCode).toBe(201);
    return team.json<{ id: string }>().id;
  }

  it("deleting a team revokes the team's keys at once, everywhere; other keys keep working", async () => {
    const { owner, orgId, base } = await organization();
    const teamId = await createTeam(owner, base, 'Research');
    const teamKey = await createKeyAs(testApp, owner, orgId, { name: 'team', team_id: teamId });
    const personalKey = await createKeyAs(testApp, owner, orgId, { name: 'personal' });
    await expectServed(teamKey.secret);
    await expectServed(personalKey.secret);

    expect((await callKeysApi(testApp, owner, 'DELETE', `${base}/teams/${teamId}`)).statusCode).toBe(204);

    await expectRefusedEverywhere(teamKey.secret);
    await expectServed(personalKey.secret);
    const listed = await callKeysApi(testApp, owner, 'GET', keysUrl(orgId, teamKey.id));
    expect(listed.json<{ status: string }>().status).toBe('revoked');
  });

  it('removing someone from a team revokes their keys of that team, and only those', async () => {
    const { owner, orgId, base } = await organization();
    const teamId = await createTeam(owner, base, 'Platform');
    const teamAdmin = await createSignedInUser(testApp);
    await addMember(testApp, orgId, teamAdmin, 'member');
    const added = await callKeysApi(testApp, owner, 'POST', `${base}/teams/${teamId}/members`, {
      body: { user_id: teamAdmin.userId, role: 'admin' },
    });
    expect(added.statusCode).toBe(201);
    const teamKey = await createKeyAs(testApp, teamAdmin, orgId, { name: 'team', team_id: teamId });
    const personalKey = await createKeyAs(testApp, teamAdmin, orgId, { name: 'personal' });
    await expectServed(teamKey.secret);

    const removed = await callKeysApi(testApp, owner, 'DELETE', `${base}/teams/${teamId}/members/${teamAdmin.userId}`);
    expect(removed.statusCode).toBe(204);

    await expectRefusedEverywhere(teamKey.secret);
    await expectServed(personalKey.secret);
  });

  it('demoting a member to viewer (who may not hold keys) revokes their keys; to billing keeps them', async () => {
    const { owner, orgId, base } = await organization();
    const demoted = await createSignedInUser(testApp);
    const billing = await createSignedInUser(testApp);
    await addMember(testApp, orgId, demoted, 'member');
    await addMember(testApp, orgId, billing, 'member');
    const demotedKey = await createKeyAs(testApp, demoted, orgId, { name: 'soon viewer' });
    const billingKey = await createKeyAs(testApp, billing, orgId, { name: 'soon billing' });
    await expectServed(demotedKey.secret);
    await expectServed(billingKey.secret);

    const toViewer = await callKeysApi(testApp, owner, 'PATCH', `${base}/members/${demoted.userId}`, {
      body: { role: 'viewer' },
    });
    expect(toViewer.statusCode).toBe(200);
    const toBilling = await callKeysApi(testApp, owner, 'PATCH', `${base}/members/${billing.userId}`, {
      body: { role: 'billing' },
    });
    expect(toBilling.statusCode).toBe(200);

    await expectRefusedEverywhere(demotedKey.secret);
    await expectServed(billingKey.secret);
    // A viewer may not hold keys, so none can be made for them either.
    const forViewer = await callKeysApi(testApp, owner, 'POST', keysUrl(orgId), {
      body: { name: 'for a viewer', user_id: demoted.userId },
    });
    expect(forViewer.statusCode).toBe(403);
  });

  it("a disabled user's keys are refused at once, everywhere, and work again once the account is re-enabled", async () => {
    const { orgId } = await organization();
    const person = await createSignedInUser(testApp);
    await addMember(testApp, orgId, person, 'member');
    const key = await createKeyAs(testApp, person, orgId, { name: 'personal' });
    await expectServed(key.secret);
    const keys = testApp.instance.services.keys;
    const setDisabled = async (disabledAt: number | null) => {
      await testApp.instance.services.database.db.transaction().execute(async (transaction) => {
        await transaction
          .updateTable('users')
          .set({ disabled_at: disabledAt })
          .where('id', '=', person.userId)
          .execute();
        await keys.ownerChangedWithin(transaction);
      });
      keys.announceChange();
    };

    await setDisabled(clock);
    await expectRefusedEverywhere(key.secret);

    await setDisabled(null);
    expect(await eventually(async () => (await chatWithKey(other, key.secret)).statusCode === 200, 1_000)).toBe(true);
    expect((await chatWithKey(testApp.instance, key.secret)).statusCode).toBe(200);
  });

  it("a user disabled behind AI Hub's back (no epoch bump) is refused once the cached principal ages out", async () => {
    const { orgId } = await organization();
    const person = await createSignedInUser(testApp);
    await addMember(testApp, orgId, person, 'member');
    const key = await createKeyAs(testApp, person, orgId, { name: 'personal' });
    await expectServed(key.secret);
    await testApp.instance.services.database.db
      .updateTable('users')
      .set({ disabled_at: clock })
      .where('id', '=', person.userId)
      .execute();

    // Still cached: the change was not announced.
    expect((await chatWithKey(testApp.instance, key.secret)).statusCode).toBe(200);
    clock += 300_001;
    const refused = await chatWithKey(testApp.instance, key.secret);
    expect(refused.statusCode).toBe(401);
    expect(gatewayErrorCode(refused)).toBe('revoked_api_key');
  });
});
