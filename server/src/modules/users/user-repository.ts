import type { Insertable, Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, OrgRole, UsersTable } from '../../db/schema.ts';

export type UserRow = Selectable<UsersTable>;

/** An organization the user belongs to, with their role in it. */
export interface UserOrganization {
  readonly id: string;
  readonly name: string;
  readonly role: OrgRole;
}

/**
 * The one home of SQL on the `users` table: sign-in, registration, password changes, SSO and the management API's
 * actor resolution all read and write users through it. Built over the database or over a transaction, so a service
 * can put several writes and their audit event in one commit.
 */
export class UserRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async insert(row: Insertable<UsersTable>): Promise<void> {
    await this.#db.insertInto('users').values(row).execute();
  }

  findById(userId: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  }

  /** `email` must already be normalized (lower-case, trimmed; see identity's email-address.ts). */
  findByEmail(email: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async setPasswordHash(userId: string, passwordHash: string, now: number): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: now })
      .where('id', '=', userId)
      .execute();
  }

  /** Sets email_verified_at unless it is already set; returns whether it changed. */
  async markEmailVerified(userId: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('users')
      .set({ email_verified_at: now, updated_at: now })
      .where('id', '=', userId)
      .where('email_verified_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Sets (a time) or clears (null) `disabled_at`; returns whether it changed. A disabled user cannot sign in, and
   * their sessions and keys are refused (see identity's account-status-service.ts).
   */
  async setDisabledAt(userId: string, disabledAt: number | null, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('users')
      .set({ disabled_at: disabledAt, updated_at: now })
      .where('id', '=', userId)
      .where('disabled_at', disabledAt === null ? 'is not' : 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Write-locks every active platform admin's row until the transaction ends (a no-op update, so it works on both
   * engines) and returns how many there are, so two admins disabled at the same time cannot both pass the "not the
   * last admin" check. On PostgreSQL a waiting update re-checks each row once the lock is free, so an admin disabled
   * meanwhile is not counted.
   */
  async lockActivePlatformAdmins(): Promise<number> {
    const result = await this.#db
      .updateTable('users')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * The live organizations the user belongs to, by name. An API key's organization narrows it: `onlyOrgId` a string
   * keeps that one, null (a key bound to no organization) keeps none, undefined (a person signed in) keeps all.
   */
  listOrganizations(userId: string, onlyOrgId?: string | null): Promise<UserOrganization[]> {
    return this.#db
      .selectFrom('org_members')
      .innerJoin('organizations', 'organizations.id', 'org_members.org_id')
      .select(['organizations.id', 'organizations.name', 'org_members.role'])
      .where('org_members.user_id', '=', userId)
      .where('organizations.deleted_at', 'is', null)
      .$if(onlyOrgId !== undefined, (query) => query.where('organizations.id', '=', onlyOrgId ?? ''))
      .orderBy('organizations.name')
      .orderBy('organizations.id')
      .execute();
  }
}
