import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createOrganization, createSignedInUser } from '../support/api-users.ts';
import {
  auditEventsFor,
  goodPassword,
  useIdentityTestApp,
  uniqueEmail,
  type IdentityTestApp,
} from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

async function countRows(identityApp: IdentityTestApp, table: 'users' | 'audit_events'): Promise<number> {
  const row = await identityApp.testApp.instance.services.database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** An open invitation for `email`, stored the way the tenancy module stores them (sha256, base64url). */
async function createInvitation(
  identityApp: IdentityTestApp,
  email: string,
  options: { expiresAt?: number; acceptedAt?: number } = {},
): Promise<string> {
  const owner = await createSignedInUser(identityApp.testApp);
  const orgId = await createOrganization(identityApp.testApp, owner);
  const token = randomBytes(32).toString('base64url');
  await identityApp.testApp.instance.services.database.db
    .insertInto('invitations')
    .values({
      id: randomBytes(8).toString('hex'),
      org_id: orgId,
      email,
      role: 'member',
      team_id: null,
      token_hash: createHash('sha256').update(token).digest('base64url'),
      invited_by: owner.userId,
      expires_at: options.expiresAt ?? Date.now() + 86_400_000,
      accepted_at: options.acceptedAt ?? null,
      declined_at: null,
      revoked_at: null,
      created_at: Date.now(),
    })
    .execute();
  return token;
}

describe.each(testEngines)('registration on %s', (engine) => {
  describe('open registration', () => {
    const identityApp = useIdentityTestApp(engine, { registration: 'open' });

    it('creates the account (email normalised), never shows the hash, and records user.register', async () => {
      const email = uniqueEmail('Ada');
      const response = await identityApp.post('/auth/register', {
        email: `  ${email.toUpperCase()} `,
        password: goodPassword,
        name: ' Ada Lovelace ',
      });
      expect(response.statusCode).toBe(201);
      const body = response.json<{ id: string }>();
      expect(body).toEqual({
        id: expect.any(String),
        email: email.toLowerCase(),
        name: 'Ada Lovelace',
        platform_role: 'member',
        email_verified: false,
        created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
      expect(response.body).not.toContain('scrypt');

      const stored = await identityApp.testApp.instance.services.database.db
        .selectFrom('users')
        .select(['password_hash'])
        .where('id', '=', body.id)
        .executeTakeFirstOrThrow();
      expect(stored.password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
      expect(stored.password_hash).not.toContain(goodPassword);

      const events = await auditEventsFor(identityApp, 'user.register', body.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ org_id: null, actor_user_id: body.id, target_type: 'user' });
      expect(events[0]!.after).not.toContain(goodPassword);
    });

    it('answers a duplicate email (any case) with 409 and writes nothing', async () => {
      const email = uniqueEmail('dup');
      const first = await identityApp.post('/auth/register', { email, password: goodPassword, name: 'First' });
      expect(first.statusCode).toBe(201);
      const users = await countRows(identityApp, 'users');
      const events = await countRows(identityApp, 'audit_events');

      const second = await identityApp.post('/auth/register', {
        email: email.toUpperCase(),
        password: goodPassword,
        name: 'Second',
      });
      expect(second.statusCode).toBe(409);
      expect(second.headers['content-type']).toContain('application/problem+json');
      expect(second.json()).toMatchObject({ code: 'conflict', param: 'email' });
      expect(await countRows(identityApp, 'users')).toBe(users);
      expect(await countRows(identityApp, 'audit_events')).toBe(events);
    });

    it.each([
      ['min_length', 'Short-1a'],
      ['max_length', `Aa1-${'x'.repeat(300)}`],
      ['contains_email', 'Margaret-Hamilton-99'],
      ['common', 'P@ssw0rd2024!'],
      ['common', 'correcthorsebatterystaple'],
      ['predictable', 'abcdefghijklmnop'],
      ['predictable', 'aaaaBBBB1111aaaa'],
      ['character_classes', 'lowercaseonly12'],
    ])('refuses a weak password (%s) with 400 naming the rule, writing nothing', async (rule, password) => {
      const users = await countRows(identityApp, 'users');
      const response = await identityApp.post('/auth/register', {
        email: 'margaret-hamilton@example.com',
        password,
        name: 'Margaret',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'weak_password', param: 'password' });
      expect(response.json().detail).toContain(`rule: ${rule}`);
      expect(await countRows(identityApp, 'users')).toBe(users);
    });

    it('accepts a long passphrase without symbols or capitals', async () => {
      const response = await identityApp.post('/auth/register', {
        email: uniqueEmail(),
        password: 'purple elephants juggle quietly',
        name: 'Phrase',
      });
      expect(response.statusCode).toBe(201);
    });

    it('refuses an address that is not one, and a missing field, with 400', async () => {
      const invalid = await identityApp.post('/auth/register', {
        email: 'not an address',
        password: goodPassword,
        name: 'X',
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json()).toMatchObject({ code: 'invalid_request', param: 'email' });
      const missing = await identityApp.post('/auth/register', { email: uniqueEmail(), name: 'X' });
      expect(missing.statusCode).toBe(400);
      expect(missing.json()).toMatchObject({ code: 'invalid_request', param: 'password' });
    });

    it('replays the first answer for a retried Idempotency-Key', async () => {
      const body = { email: uniqueEmail('retry'), password: goodPassword, name: 'Retry' };
      const headers = { 'idempotency-key': `register-${randomBytes(6).toString('hex')}` };
      const first = await identityApp.post('/auth/register', body, { headers });
      const second = await identityApp.post('/auth/register', body, { headers });
      expect(first.statusCode).toBe(201);
      expect(second.statusCode).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.json().id).toBe(first.json().id);
      const stored = await identityApp.testApp.instance.services.database.db
        .selectFrom('idempotency_records')
        .select(['request_hash', 'response'])
        .where('key', '=', headers['idempotency-key'])
        .executeTakeFirstOrThrow();
      expect(stored.response).not.toContain(goodPassword);
    });
  });

  describe('invite-only registration', () => {
    const identityApp = useIdentityTestApp(engine, { registration: 'invite' });

    it('refuses registration without an invitation with 403', async () => {
      const response = await identityApp.post('/auth/register', {
        email: uniqueEmail(),
        password: goodPassword,
        name: 'Uninvited',
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden', param: 'invitation_token' });
    });

    it('creates a verified account for the invited address', async () => {
      const email = uniqueEmail('invited');
      const token = await createInvitation(identityApp, email);
      const response = await identityApp.post('/auth/register', {
        email,
        password: goodPassword,
        name: 'Invited',
        invitation_token: token,
      });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ email, email_verified: true });
      // Joining the organization is the tenancy module's accept step, not registration's.
      const memberships = await identityApp.testApp.instance.services.database.db
        .selectFrom('org_members')
        .select('org_id')
        .where('user_id', '=', response.json().id)
        .execute();
      expect(memberships).toEqual([]);
    });

    it('refuses an invitation for another address, an unknown token, an expired or accepted invitation', async () => {
      const invitedEmail = uniqueEmail('someone');
      const otherAddress = await createInvitation(identityApp, invitedEmail);
      const expired = uniqueEmail('expired');
      const accepted = uniqueEmail('accepted');
      const cases = [
        { email: uniqueEmail('intruder'), token: otherAddress },
        { email: uniqueEmail('guess'), token: randomBytes(32).toString('base64url') },
        { email: expired, token: await createInvitation(identityApp, expired, { expiresAt: Date.now() - 1000 }) },
        { email: accepted, token: await createInvitation(identityApp, accepted, { acceptedAt: Date.now() - 1000 }) },
      ];
      for (const { email, token } of cases) {
        const response = await identityApp.post('/auth/register', {
          email,
          password: goodPassword,
          name: 'Nope',
          invitation_token: token,
        });
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ code: 'forbidden', param: 'invitation_token' });
      }
    });
  });

  describe('closed registration', () => {
    const identityApp = useIdentityTestApp(engine, { registration: 'closed' });

    it('refuses everyone with 403, invitation or not', async () => {
      const email = uniqueEmail('closed');
      const token = await createInvitation(identityApp, email);
      const response = await identityApp.post('/auth/register', {
        email,
        password: goodPassword,
        name: 'Closed',
        invitation_token: token,
      });
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('forbidden');
    });
  });
});
