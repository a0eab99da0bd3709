import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createOrganizationAsOperator } from '../../src/modules/tenancy/index.ts';
import type { TestApp } from './test-app.ts';

export interface SignedInUser {
  readonly userId: string;
  readonly email: string;
  readonly accessToken: string;
  /** Headers for an authenticated management API call. */
  readonly headers: Record<string, string>;
}

/**
 * Creates a user straight in the database and signs them in (a session row plus an access token), so tests of one
 * management area do not depend on the sign-in routes of another.
 */
export async function createSignedInUser(
  testApp: TestApp,
  options: { email?: string; name?: string; platformRole?: 'admin' | 'member' } = {},
): Promise<SignedInUser> {
  const db = testApp.instance.services.database.db;
  const now = Date.now();
  const userId = randomUUID();
  const email = options.email ?? `user-${userId.slice(0, 8)}@example.com`;
  await db
    .insertInto('users')
    .values({
      id: userId,
      email,
      name: options.name ?? email.split('@')[0] ?? email,
      role: options.platformRole ?? 'member',
      created_at: now,
      updated_at: now,
    })
    .execute();
  const sessionId = randomUUID();
  await db
    .insertInto('refresh_tokens')
    .values({
      id: randomUUID(),
      user_id: userId,
      family_id: sessionId,
      token_hash: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      expires_at: now + 86_400_000,
      revoked_at: null,
      replaced_by: null,
      user_agent: 'test',
      ip: '127.0.0.1',
      created_at: now,
    })
    .execute();
  const accessToken = await testApp.instance.services.accessTokens.issue({ userId, sessionId });
  return {
    userId,
    email,
    accessToken,
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
  };
}

/** Creates an organization owned by `owner` directly in the database; returns its id. */
export async function createOrganization(testApp: TestApp, owner: SignedInUser, name = 'Acme'): Promise<string> {
  return createOrganizationAsOperator(testApp.instance.services.database.db, name, owner.userId);
}

/** Adds an existing user to an organization with a role, directly in the database. */
export async function addMember(
  testApp: TestApp,
  orgId: string,
  user: SignedInUser,
  role: 'owner' | 'admin' | 'billing' | 'member' | 'viewer',
): Promise<void> {
  await testApp.instance.services.database.db
    .insertInto('org_members')
    .values({ org_id: orgId, user_id: user.userId, role, created_at: Date.now() })
    .execute();
}
