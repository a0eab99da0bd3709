import type { Config } from '../config/config.ts';
import { OrganizationPurge, deletedOrganizationRetentionDays } from '../modules/tenancy/index.ts';
import { withMigratedDatabase } from './migrated-database.ts';

/** `aihub purge`: deletes, now, every organization whose retention period after deletion has ended. */
export async function runPurge(config: Config, output: (line: string) => void, now = Date.now()): Promise<void> {
  await withMigratedDatabase(config, async (db) => {
    const purged = await new OrganizationPurge(db).purgeExpired(now);
    for (const organization of purged) {
      const rows = Object.values(organization.rows).reduce((sum, count) => sum + count, 0);
      output(
        `purged organization ${organization.id} (${organization.name}), deleted ${new Date(organization.deletedAt).toISOString()}: ${rows} rows`,
      );
    }
    output(
      purged.length === 0
        ? `nothing to purge (organizations are purged ${deletedOrganizationRetentionDays} days after deletion)`
        : `purged ${purged.length} organization${purged.length === 1 ? '' : 's'}`,
    );
  });
}
