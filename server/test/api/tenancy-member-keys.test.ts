import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';

/** A key acts as its user inside its organization: when the user is out, or the organization gone, so is the key. */
describe.each(testEngines)('keys of people who leave an organization, on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let member: SignedInUser;
  let orgId: string;

  beforeEach(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    member = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner);
    await addMember(testApp, orgId, member, 'member');
  });
  afterEach(async () => {
    await testApp.close();
  });

  async function createKey(user: SignedInUser): Promise<string> {
    const { secret } = await testApp.instance.services.keys.create({ name: 'k', userId: user.userId, orgId });
    return secret;
  }

  async function listModels(secret: string): Promise<number> {
    const response = await testApp.instance.app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: testApp.headers(secret),
    });
    return response.statusCode;
  }

  it('revokes a removed member’s keys at once, and records how many in the audit event', async () => {
    const memberKey = await createKey(member);
    const ownerKey = await createKey(owner);
    expect(await listModels(memberKey)).toBe(200);

    const removal = await testApp.instance.app.inject({
      method: 'DELETE',
      url: `/api/v1/organizations/${orgId}/members/${member.userId}`,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(removal.statusCode).toBeLessThan(300);

    expect(await listModels(memberKey)).toBe(401);
    expect(await listModels(ownerKey)).toBe(200);
    const event = await testApp.instance.services.database.db
      .selectFrom('audit_events')
      .select(['after'])
      .where('action', '=', 'member.remove')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(event.after ?? '{}')).toEqual({ revoked_keys: 1 });
  });

  it('revokes the keys of a member who leaves', async () => {
    const memberKey = await createKey(member);
    const leave = await testApp.instance.app.inject({
      method: 'POST',
      url: `/api/v1/organizations/${orgId}/leave`,
      headers: { authorization: `Bearer ${member.accessToken}` },
    });
    expect(leave.statusCode).toBeLessThan(300);
    expect(await listModels(memberKey)).toBe(401);
  });

  it('revokes every key of a deleted organization', async () => {
    const keys = [await createKey(owner), await createKey(member)];
    const deletion = await testApp.instance.app.inject({
      method: 'DELETE',
      url: `/api/v1/organizations/${orgId}`,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(deletion.statusCode).toBeLessThan(300);
    for (const key of keys) expect(await listModels(key)).toBe(401);
  });
});
