import type { Database } from '../../db/database.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { deletedOrganizationRetentionDays } from './organization-service.ts';
import { OrganizationPurgeRepository } from './organization-purge-repository.ts';

export interface PurgedOrganization {
  readonly id: string;
  readonly name: string;
  readonly deletedAt: number;
  /** Rows deleted per table. */
  readonly rows: Readonly<Record<string, number>>;
}

const dayMs = 86_400_000;
/** Organizations purged per pass; the next pass takes the rest, so one pass never holds the database for long. */
const batchSize = 100;

/**
 * Ends the retention period of deleted organizations: each one past `deleted_at + retention` loses every row it owns,
 * in one transaction per organization, with a platform audit event (`organization.purge`) in the same transaction.
 * `serve` runs it periodically; `aihub purge` runs it once.
 */
export class OrganizationPurge {
  readonly #db: Database;
  readonly #retentionMs: number;

  constructor(db: Database, retentionDays = deletedOrganizationRetentionDays) {
    this.#db = db;
    this.#retentionMs = retentionDays * dayMs;
  }

  /** Purges every organization whose purge date is at or before `now`; returns what was purged. */
  async purgeExpired(now: number): Promise<PurgedOrganization[]> {
    const purged: PurgedOrganization[] = [];
    for (;;) {
      const expired = await new OrganizationPurgeRepository(this.#db).listDeletedBefore(
        now - this.#retentionMs,
        batchSize,
      );
      for (const organization of expired) {
        const rows = await this.#db.transaction().execute(async (transaction) => {
          const deleted = await new OrganizationPurgeRepository(transaction).deleteOrganization(organization.id);
          if (deleted.organizations !== 1) return undefined;
          await recordAuditEvent(
            transaction,
            {
              orgId: null,
              actor: null,
              action: 'organization.purge',
              targetType: 'organization',
              targetId: organization.id,
              before: { id: organization.id, name: organization.name, deleted_at: organization.deleted_at },
              after: { purged_at: now, deleted_rows: deleted },
            },
            now,
          );
          return deleted;
        });
        if (rows) {
          purged.push({ id: organization.id, name: organization.name, deletedAt: organization.deleted_at, rows });
        }
      }
      if (expired.length < batchSize) return purged;
    }
  }
}
