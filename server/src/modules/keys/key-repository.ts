import { type Insertable, type Kysely, type Updateable } from 'kysely';
import type { ApiKeyRow, DatabaseSchema, OrgRole } from '../../db/schema.ts';
import { CacheEpochRepository, pageQuery, type ListWindow, type OrgScope } from '../shared/index.ts';

export const keysEpochName = 'api_keys';

export type KeyStatus = 'active' | 'revoked' | 'expired';
export const keySortFields = ['created_at', 'name'] as const;
export type KeySortField = (typeof keySortFields)[number];

export interface KeyListFilters {
  teamId?: string | undefined;
  userId?: string | undefined;
  status?: KeyStatus | undefined;
}

export type KeyListWindow = ListWindow<KeySortField>;

/** Which keys of an organization a bulk revocation ends: one user's, one team's, both narrowed, or all. */
export interface KeyOwnerFilter {
  readonly userId?: string | undefined;
  readonly teamId?: string | undefined;
}

/**
 * SQL for API keys. Management reads take the caller's OrgScope, so they cannot leave the organization; the lookup by
 * hash (the gateway hot path) and the operator's CLI are global by nature.
 */
export class KeyRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  /** Runs `work` in one transaction with a repository bound to it; `executor` is for the audit event. */
  transaction<T>(work: (keys: KeyRepository, executor: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((transaction) => work(new KeyRepository(transaction), transaction));
  }

  async insert(row: Insertable<DatabaseSchema['api_keys']>): Promise<void> {
    await this.#db.insertInto('api_keys').values(row).execute();
  }

  /**
   * The key behind a hash with its owner's state: `owner_active` is false when the user is disabled or gone, since a
   * key acts as its user and stops working with them.
   */
  async findByHash(keyHash: string): Promise<(ApiKeyRow & { owner_active: boolean }) | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .leftJoin('users', 'users.id', 'api_keys.user_id')
      .selectAll('api_keys')
      .select(['users.id as owner_id', 'users.disabled_at as owner_disabled_at'])
      .where('api_keys.key_hash', '=', keyHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const { owner_id: ownerId, owner_disabled_at: ownerDisabledAt, ...key } = row;
    return { ...key, owner_active: ownerId !== null && ownerDisabledAt === null };
  }

  /** Global: for the operator's CLI and tests. Management routes use findInOrg. */
  findById(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Global, newest first: for the operator's CLI. */
  list(): Promise<ApiKeyRow[]> {
    return this.#db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').orderBy('id').execute();
  }

  findInOrg(scope: OrgScope, id: string): Promise<ApiKeyRow | undefined> {
    return this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** One page (plus one row, to tell whether more follow) of the organization's keys, ordered by the window. */
  listInOrg(scope: OrgScope, filters: KeyListFilters, window: KeyListWindow, now: number): Promise<ApiKeyRow[]> {
    let query = this.#db.selectFrom('api_keys').selectAll().where('org_id', '=', scope.orgId);
    if (filters.teamId !== undefined) query = query.where('team_id', '=', filters.teamId);
    if (filters.userId !== undefined) query = query.where('user_id', '=', filters.userId);
    switch (filters.status) {
      case 'revoked':
        query = query.where('revoked_at', 'is not', null);
        break;
      case 'expired':
        query = query.where('revoked_at', 'is', null).where('expires_at', '<=', now);
        break;
      case 'active':
        query = query
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
        break;
      case undefined:
        break;
    }
    const sortType = window.sort.field === 'name' ? 'string' : 'number';
    return pageQuery(query, { sort: window.sort.field, id: 'id', sortType }, window).execute();
  }

  /**
   * Pulls in the expiry of a key being replaced by rotation, only while it is still active (not revoked, not yet
   * expired at `now`); false when a concurrent revocation or expiry got there first.
   */
  async retire(id: string, expiresAt: number, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('api_keys')
      .set({ expires_at: expiresAt, updated_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Whether a key was already replaced by rotation (a key is rotated at most once). */
  async hasSuccessor(id: string): Promise<boolean> {
    const row = await this.#db.selectFrom('api_keys').select('id').where('rotated_from', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  async update(id: string, changes: Updateable<DatabaseSchema['api_keys']>): Promise<ApiKeyRow | undefined> {
    await this.#db.updateTable('api_keys').set(changes).where('id', '=', id).execute();
    return this.findById(id);
  }

  /** Marks a key revoked; false when it was not active. Call bumpEpoch in the same transaction. */
  async markRevoked(id: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: now, updated_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Revokes every active key of the organization, narrowed to one user's and/or one team's when given. Returns how
   * many; bump the epoch if any.
   */
  async revokeInOrganization(scope: OrgScope, now: number, which: KeyOwnerFilter = {}): Promise<number> {
    const { userId, teamId } = which;
    const result = await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: now, updated_at: now })
      .where('org_id', '=', scope.orgId)
      .$if(userId !== undefined, (query) => query.where('user_id', '=', userId ?? ''))
      .$if(teamId !== undefined, (query) => query.where('team_id', '=', teamId ?? ''))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Tells every instance that some key changed (revoked, rotated, re-scoped): they drop their cached principals. */
  bumpEpoch(): Promise<void> {
    return new CacheEpochRepository(this.#db, keysEpochName).bump();
  }

  readEpoch(): Promise<number> {
    return new CacheEpochRepository(this.#db, keysEpochName).read();
  }

  /** Records the latest use per key; called from the usage writer's batches, never per request. */
  async touchLastUsed(lastUsedByKey: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, lastUsedAt] of lastUsedByKey) {
      await this.#db
        .updateTable('api_keys')
        .set({ last_used_at: lastUsedAt })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', lastUsedAt)]))
        .execute();
    }
  }

  /**
   * Locks the membership (and team) a key is about to be issued under, inside the issuing transaction, and reads
   * them again: a concurrent removal, demotion or team deletion then either commits first and is seen here, or waits
   * for this key and revokes it too. A no-op UPDATE is the lock that means the same on both engines (a row lock on
   * PostgreSQL; SQLite runs one writer at a time), and its RETURNING is the read.
   */
  async lockHolder(
    orgId: string,
    userId: string,
    teamId: string | null,
  ): Promise<{ memberRole: OrgRole | undefined; teamFound: boolean }> {
    const member = await this.#db
      .updateTable('org_members')
      .set((eb) => ({ role: eb.ref('role') }))
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .returning('role')
      .executeTakeFirst();
    if (teamId === null) return { memberRole: member?.role, teamFound: true };
    const team = await this.#db
      .updateTable('teams')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('org_id', '=', orgId)
      .where('id', '=', teamId)
      .executeTakeFirst();
    return { memberRole: member?.role, teamFound: team.numUpdatedRows > 0n };
  }

  async teamExists(scope: OrgScope, teamId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('teams')
      .select('id')
      .where('org_id', '=', scope.orgId)
      .where('id', '=', teamId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async isMember(scope: OrgScope, userId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('org_members')
      .select('user_id')
      .where('org_id', '=', scope.orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * For the operator's CLI: the user's membership in `orgId`, or (without one) their oldest organization, and
   * whether `teamId` belongs to it.
   */
  async findOperatorTarget(
    userId: string,
    orgId: string | undefined,
    teamId: string | undefined,
  ): Promise<{ orgId: string | undefined; teamFound: boolean }> {
    let query = this.#db
      .selectFrom('org_members')
      .innerJoin('organizations', 'organizations.id', 'org_members.org_id')
      .select('org_members.org_id')
      .where('org_members.user_id', '=', userId)
      .where('organizations.deleted_at', 'is', null);
    if (orgId !== undefined) query = query.where('org_members.org_id', '=', orgId);
    const membership = await query.orderBy('org_members.created_at').orderBy('org_members.org_id').executeTakeFirst();
    if (membership === undefined || teamId === undefined) return { orgId: membership?.org_id, teamFound: false };
    const team = await this.#db
      .selectFrom('teams')
      .select('id')
      .where('org_id', '=', membership.org_id)
      .where('id', '=', teamId)
      .executeTakeFirst();
    return { orgId: membership.org_id, teamFound: team !== undefined };
  }
}
