import type { Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, OrgRole, UsersTable } from '../../db/schema.ts';

type Executor = Kysely<DatabaseSchema>;
export type SsoUser = Pick<Selectable<UsersTable>, 'id' | 'email' | 'name' | 'role' | 'disabled_at'>;

const userColumns = ['id', 'email', 'name', 'role', 'disabled_at'] as const;

/** The SQL behind SSO sign-in; every method takes the executor so the login's writes share one transaction. */
export const ssoAccountRepository = {
  findLinkedUser(executor: Executor, issuer: string, subject: string): Promise<SsoUser | undefined> {
    return executor
      .selectFrom('sso_identities')
      .innerJoin('users', 'users.id', 'sso_identities.user_id')
      .select(userColumns.map((column) => `users.${column}` as const))
      .where('sso_identities.issuer', '=', issuer)
      .where('sso_identities.subject', '=', subject)
      .executeTakeFirst();
  },

  async linkIdentity(
    executor: Executor,
    identity: { issuer: string; subject: string; userId: string; email: string },
    now: number,
  ): Promise<void> {
    await executor
      .insertInto('sso_identities')
      .values({
        issuer: identity.issuer,
        subject: identity.subject,
        user_id: identity.userId,
        email: identity.email,
        created_at: now,
        last_login_at: now,
      })
      .execute();
  },

  async recordIdentityLogin(
    executor: Executor,
    identity: { issuer: string; subject: string; email: string },
    now: number,
  ): Promise<void> {
    await executor
      .updateTable('sso_identities')
      .set({ email: identity.email, last_login_at: now })
      .where('issuer', '=', identity.issuer)
      .where('subject', '=', identity.subject)
      .execute();
  },

  async findMembershipRole(executor: Executor, orgId: string, userId: string): Promise<OrgRole | undefined> {
    const row = await executor
      .selectFrom('org_members')
      .select('role')
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  },

  async addMember(executor: Executor, orgId: string, userId: string, role: OrgRole, now: number): Promise<void> {
    await executor
      .insertInto('org_members')
      .values({ org_id: orgId, user_id: userId, role, created_at: now })
      .execute();
  },
};

/** A unique or primary-key violation on either engine: a concurrent first sign-in got there first. */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || /UNIQUE constraint failed|PRIMARY KEY constraint failed/i.test(error.message);
}
