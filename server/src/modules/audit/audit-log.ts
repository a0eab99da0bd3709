import type { Database } from '../../db/database.ts';
import type { ListWindow, OrgScope } from '../shared/index.ts';
import { AuditRepository, type AuditEventFilters, type AuditEventRow } from './audit-repository.ts';

export type { AuditEventFilters, AuditEventRow } from './audit-repository.ts';

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
    return new AuditRepository(this.#db).list(scope, filters, window);
  }
}
