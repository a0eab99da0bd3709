import type { Selectable } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { AuditEventsTable } from '../../db/schema.ts';
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
 * The read side of the audit log: one organization's events, newest first. There is no write here besides
 * `recordAuditEvent`, and nothing anywhere updates or deletes audit rows.
 */
export class AuditLog {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
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
