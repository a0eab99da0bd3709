import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, countRows, lastAuditEvent, problemCode } from './tenancy-support.ts';

interface CreatedInvitation {
  id: string;
  org_id: string;
  email: string;
  role: string;
  team_id: string | null;
  status: string;
  expires_at: number;
  token: string;
  accept_url: string;
}

describe.each(testEngines)('invitations on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let teamId: string;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Invites Ltd');
    const team = await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'Research' } });
    teamId = team.json<{ id: string }>().id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  const call = (...args: Parameters<typeof callApi> extends [unknown, ...infer Rest] ? Rest : never) =>
    callApi(testApp, ...args);
  const invite = async (body: Record<string, unknown>, by: SignedInUser = owner) => {
    const response = await call(by, 'POST', `/api/v1/organizations/${orgId}/invitations`, { body });
    return { response, invitation: response.json<CreatedInvitation>() };
  };

  it('creates an invitation with a one-time token and link, storing only the token hash', async () => {
    const { response, invitation } = await invite({ email: 'New.Person@Example.com', role: 'member', team_id: teamId });
    expect(response.statusCode).toBe(201);
    expect(invitation).toMatchObject({
      org_id: orgId,
      email: 'new.person@example.com',
      role: 'member',
      team_id: teamId,
      status: 'pending',
    });
    expect(invitation.expires_at - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(invitation.expires_at - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
    expect(invitation.accept_url).toBe(
      `${testApp.config.identity.publicUrl}/accept-invitation?token=${encodeURIComponent(invitation.token)}`,
    );
    const row = await testApp.instance.services.database.db
      .selectFrom('invitations')
      .selectAll()
      .where('id', '=', invitation.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(invitation.token).digest('base64url'));
    expect(JSON.stringify(row)).not.toContain(invitation.token);
    const listed = await call(owner, 'GET', `/api/v1/organizations/${orgId}/invitations?status=pending`);
    const data = listed.json<{ data: Record<string, unknown>[] }>().data;
    expect(data.map((item) => item.id)).toContain(invitation.id);
    expect(data.every((item) => item.token === undefined)).toBe(true);
    const event = await lastAuditEvent(testApp, orgId, 'invitation.create');
    expect(event).toMatchObject({ target_id: invitation.id });
    expect(JSON.stringify(event)).not.toContain(invitation.token);
  });

  it('shows the link to anyone without secrets, and 404s unknown tokens', async () => {
    const { invitation } = await invite({ email: 'public-view@example.com', role: 'viewer', team_id: teamId });
    const response = await call(undefined, 'GET', `/api/v1/invitations/${invitation.token}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      organization: { name: 'Invites Ltd' },
      team: { name: 'Research' },
      email: 'public-view@example.com',
      role: 'viewer',
      status: 'pending',
      expires_at: invitation.expires_at,
    });
    expect((await call(undefined, 'GET', '/api/v1/invitations/unknown-token')).statusCode).toBe(404);
  });

  it('joins the organization and the team in one step for the invited address', async () => {
    const invitee = await createSignedInUser(testApp, { email: 'joiner@example.com' });
    const stranger = await createSignedInUser(testApp);
    const { invitation } = await invite({ email: 'JOINER@example.com', role: 'billing', team_id: teamId });

    const anonymous = await call(undefined, 'POST', `/api/v1/invitations/${invitation.token}/accept`);
    expect(anonymous.statusCode).toBe(401);
    const wrongPerson = await call(stranger, 'POST', `/api/v1/invitations/${invitation.token}/accept`);
    expect(wrongPerson.statusCode).toBe(403);

    const accepted = await call(invitee, 'POST', `/api/v1/invitations/${invitation.token}/accept`);
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toEqual({
      organization: { id: orgId, name: 'Invites Ltd' },
      role: 'billing',
      team_id: teamId,
    });
    const me = await call(invitee, 'GET', `/api/v1/organizations/${orgId}`);
    expect(me.json()).toMatchObject({ role: 'billing' });
    const team = await call(invitee, 'GET', `/api/v1/organizations/${orgId}/teams/${teamId}/members`);
    expect(team.json<{ data: { user_id: string }[] }>().data.map((member) => member.user_id)).toContain(invitee.userId);
    expect(await lastAuditEvent(testApp, orgId, 'invitation.accept')).toMatchObject({
      actor_user_id: invitee.userId,
      before: { status: 'pending' },
      after: { status: 'accepted', member: { user_id: invitee.userId, role: 'billing', team_id: teamId } },
    });

    const again = await call(invitee, 'POST', `/api/v1/invitations/${invitation.token}/accept`);
    expect(again.statusCode).toBe(410);
    expect(problemCode(again)).toBe('gone');
    const lookup = await call(undefined, 'GET', `/api/v1/invitations/${invitation.token}`);
    expect(lookup.json()).toMatchObject({ status: 'accepted' });
  });

  it('answers expired, revoked and declined invitations with 410 and writes nothing', async () => {
    const invitee = await createSignedInUser(testApp, { email: 'late@example.com' });
    const { invitation: expired } = await invite({ email: 'late@example.com', role: 'member' });
    await testApp.instance.services.database.db
      .updateTable('invitations')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', expired.id)
      .execute();
    const members = await countRows(testApp, 'org_members');
    const events = await countRows(testApp, 'audit_events');
    expect((await call(invitee, 'POST', `/api/v1/invitations/${expired.token}/accept`)).statusCode).toBe(410);
    expect((await call(invitee, 'POST', `/api/v1/invitations/${expired.token}/decline`)).statusCode).toBe(410);
    const lookup = await call(undefined, 'GET', `/api/v1/invitations/${expired.token}`);
    expect(lookup.json()).toMatchObject({ status: 'expired' });
    expect((await call(owner, 'DELETE', `/api/v1/organizations/${orgId}/invitations/${expired.id}`)).statusCode).toBe(
      410,
    );

    const { invitation: revoked } = await invite({ email: 'late@example.com', role: 'member' });
    const revoke = await call(owner, 'DELETE', `/api/v1/organizations/${orgId}/invitations/${revoked.id}`);
    expect(revoke.statusCode).toBe(204);
    expect((await call(invitee, 'POST', `/api/v1/invitations/${revoked.token}/accept`)).statusCode).toBe(410);

    const { invitation: declined } = await invite({ email: 'late@example.com', role: 'member' });
    expect((await call(invitee, 'POST', `/api/v1/invitations/${declined.token}/decline`)).statusCode).toBe(204);
    expect((await call(invitee, 'POST', `/api/v1/invitations/${declined.token}/accept`)).statusCode).toBe(410);
    expect((await call(invitee, 'POST', `/api/v1/invitations/${declined.token}/decline`)).statusCode).toBe(410);

    expect(await countRows(testApp, 'org_members')).toBe(members);
    // Only the successful revoke, the two creations and the decline were recorded.
    expect(await countRows(testApp, 'audit_events')).toBe(events + 4);
    const expiredList = await call(owner, 'GET', `/api/v1/organizations/${orgId}/invitations?status=expired`);
    expect(expiredList.json<{ data: { id: string }[] }>().data.map((item) => item.id)).toEqual([expired.id]);
  });

  it('lets only one of two concurrent acceptances through', async () => {
    const invitee = await createSignedInUser(testApp, { email: 'racer@example.com' });
    const { invitation } = await invite({ email: 'racer@example.com', role: 'member' });
    const answers = await Promise.all(
      [0, 1, 2].map(() => call(invitee, 'POST', `/api/v1/invitations/${invitation.token}/accept`)),
    );
    const statuses = answers.map((answer) => answer.statusCode).sort();
    expect(statuses[0]).toBe(200);
    expect(statuses.slice(1).every((status) => status === 409 || status === 410)).toBe(true);
    const memberships = await testApp.instance.services.database.db
      .selectFrom('org_members')
      .select('role')
      .where('org_id', '=', orgId)
      .where('user_id', '=', invitee.userId)
      .execute();
    expect(memberships).toEqual([{ role: 'member' }]);
  });

  it('rolls back the acceptance when the invitee is already a member', async () => {
    const member = await createSignedInUser(testApp, { email: 'already@example.com' });
    const { invitation } = await invite({ email: 'already-not-yet@example.com', role: 'member' });
    await testApp.instance.services.database.db
      .updateTable('invitations')
      .set({ email: 'already@example.com' })
      .where('id', '=', invitation.id)
      .execute();
    await addMember(testApp, orgId, member, 'viewer');
    const response = await call(member, 'POST', `/api/v1/invitations/${invitation.token}/accept`);
    expect(response.statusCode).toBe(409);
    const lookup = await call(undefined, 'GET', `/api/v1/invitations/${invitation.token}`);
    expect(lookup.json()).toMatchObject({ status: 'pending' });
  });

  it('refuses role escalation, owner invitations, members and duplicate pending invitations', async () => {
    const admin = await createSignedInUser(testApp);
    const member = await createSignedInUser(testApp);
    await addMember(testApp, orgId, admin, 'admin');
    await addMember(testApp, orgId, member, 'member');
    expect((await invite({ email: 'x@example.com', role: 'owner' })).response.statusCode).toBe(403);
    expect((await invite({ email: 'x@example.com', role: 'owner' }, admin)).response.statusCode).toBe(403);
    expect((await invite({ email: 'x@example.com', role: 'member' }, member)).response.statusCode).toBe(403);
    expect((await invite({ email: 'x@example.com', role: 'admin' }, admin)).response.statusCode).toBe(201);
    expect((await invite({ email: 'x@example.com', role: 'viewer' })).response.statusCode).toBe(409);
    expect((await invite({ email: member.email, role: 'viewer' })).response.statusCode).toBe(409);
    expect((await invite({ email: 'not-an-email', role: 'viewer' })).response.statusCode).toBe(400);
    expect((await invite({ email: 'y@example.com', role: 'viewer', team_id: 'team_x' })).response.statusCode).toBe(422);
  });

  it('replays an idempotent invitation without its token (never stored) and refuses a changed body', async () => {
    const headers = { 'idempotency-key': 'invite-once' };
    const url = `/api/v1/organizations/${orgId}/invitations`;
    const body = { email: 'idem@example.com', role: 'member' };
    const first = await call(owner, 'POST', url, { body, headers });
    const second = await call(owner, 'POST', url, { body, headers });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    const { token: _token, accept_url: _acceptUrl, ...withoutSecrets } = first.json<CreatedInvitation>();
    expect(second.json()).toEqual(withoutSecrets);
    const changed = await call(owner, 'POST', url, { body: { ...body, role: 'viewer' }, headers });
    expect(changed.statusCode).toBe(422);
  });

  it('pages invitations newest first and rejects malformed cursors', async () => {
    const url = `/api/v1/organizations/${orgId}/invitations`;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const suffix: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await call(owner, 'GET', `${url}?limit=2${suffix}`);
      const body = page.json<{ data: { id: string; created_at: number }[]; next_cursor: string | null }>();
      seen.push(...body.data.map((item) => item.id));
      cursor = body.next_cursor;
    } while (cursor !== null);
    expect(seen.length).toBe(await countRows(testApp, 'invitations'));
    expect(new Set(seen).size).toBe(seen.length);
    const bad = await call(owner, 'GET', `${url}?cursor=${Buffer.from('[1]').toString('base64url')}`);
    expect(bad.statusCode).toBe(400);
    expect(problemCode(bad)).toBe('invalid_cursor');
  });
});
