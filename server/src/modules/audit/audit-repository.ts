import type { Insertable, Kysely, Selectable } from 'kysely';
import type { AuditEventsTable, DatabaseSchema } from '../../db/schema.ts';
import { pageQuery, type ListWindow, type OrgScope } from '../shared/index.ts';

export type AuditEventRow = Selectable<AuditEventsTable>;

export interface AuditEventFilters {
  readonly action?: string | undefined;
  readonly actorUserId?: string | undefined;
  readonly targetType?: string | undefined;
  /** Inclusive lower bound on created_at (epoch ms). */
  readonly since?: number | undefined;
  /** Exclusive upper bound on created_at (epoch ms). */
  readonly until?: number | undefined;
}

/**
 * SQL for the append-only `audit_events` table: an insert and one organization's listing, nothing that updates or
 * deletes. Built over the database or over the transaction of the change being recorded.
 */
export class AuditRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  async insert(row: Insertable<AuditEventsTable>): Promise<void> {
    await this.#db.insertInto('audit_events').values(row).execute();
  }

  list(scope: OrgScope, filters: AuditEventFilters, window: ListWindow<'created_at'>): Promise<AuditEventRow[]> {
    let query = this.#db.selectFrom('audit_events').selectAll().where('org_id', '=', scope.orgId);
    if (filters.action !== undefined) query = query.where('action', '=', filters.action);
    if (filters.actorUserId !== undefined) query = query.where('actor_user_id', '=', filters.actorUserId);
    if (filters.targetType !== undefined) query = query.where('target_type', '=', filters.targetType);
    if (filters.since !== undefined) query = query.where('created_at', '>=', filters.since);
    if (filters.until !== undefined) query = query.where('created_at', '<', filters.until);
    return pageQuery(
      query,
      { sort: 'audit_events.created_at', id: 'audit_events.id', sortType: 'number' },
      window,
    ).execute();
  }
}
