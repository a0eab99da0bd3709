import { randomUUID } from 'node:crypto';
import type { Insertable, Selectable } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { UsersTable } from '../../db/schema.ts';

export type UserRow = Selectable<UsersTable>;

export class UserRepository {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
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

  /** Creates an organization and makes `userId` its owner, in one transaction; returns the organization id. */
  async createOrganizationWithOwner(name: string, userId: string, now: number): Promise<string> {
    const orgId = `org_${randomUUID().replaceAll('-', '')}`;
    await this.#db.transaction().execute(async (transaction) => {
      await transaction
        .insertInto('organizations')
        .values({ id: orgId, name, settings: '{}', deleted_at: null, created_at: now, updated_at: now })
        .execute();
      await transaction
        .insertInto('org_members')
        .values({ org_id: orgId, user_id: userId, role: 'owner', created_at: now })
        .execute();
    });
    return orgId;
  }

  findByEmail(email: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }
}
