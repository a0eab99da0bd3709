import type { Migration, MigrationProvider } from 'kysely';
import { initialMigration } from './0001-initial.ts';
import { identityAndTenancyMigration } from './0002-identity-and-tenancy.ts';
import { ssoIdentitiesMigration } from './0003-sso-identities.ts';
import { tenancyInvariantsMigration } from './0005-tenancy-invariants.ts';
import { idempotencyLifetimeMigration } from './0006-idempotency-lifetime.ts';
import { modelRegistryMigration } from './0007-model-registry.ts';
import { cacheWriteTokensMigration } from './0008-cache-write-tokens.ts';
import { trafficControlMigration } from './0009-traffic-control.ts';

/** Migrations are listed here rather than discovered on disk, so they load the same from source or a bundle. */
const migrations: Record<string, Migration> = {
  '0001-initial': initialMigration,
  '0002-identity-and-tenancy': identityAndTenancyMigration,
  '0003-sso-identities': ssoIdentitiesMigration,
  '0005-tenancy-invariants': tenancyInvariantsMigration,
  '0006-idempotency-lifetime': idempotencyLifetimeMigration,
  '0007-model-registry': modelRegistryMigration,
  '0008-cache-write-tokens': cacheWriteTokensMigration,
  '0009-traffic-control': trafficControlMigration,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
