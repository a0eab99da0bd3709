import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/index.ts';
import { migrateToLatest, openDatabase, type Database } from '../../src/db/database.ts';
import { organizationOwnedTables } from '../../src/modules/tenancy/organization-purge-repository.ts';
import { deletedOrganizationRetentionDays, OrganizationPurge } from '../../src/modules/tenancy/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';
import { killLeftoverProcesses, startCli } from './cli-process.ts';

const dayMs = 86_400_000;
const now = Date.parse('2026-06-01T00:00:00Z');
const retentionMs = deletedOrganizationRetentionDays * dayMs;

/** One organization with a row in every table it owns, and usage through its key. */
async function seedOrganization(db: Database, id: string, deletedAt: number | null): Promise<void> {
  const user = `user_${id}`;
  const created = now - 100 * dayMs;
  await sql`insert into users (id, email, name, role, created_at) values (${user}, ${`${id}@example.com`}, ${id}, 'member', ${created})`.execute(
    db,
  );
  await sql`insert into organizations (id, name, settings, deleted_at, created_at, updated_at)
            values (${id}, ${`Org ${id}`}, '{}', ${deletedAt}, ${created}, ${created})`.execute(db);
  await sql`insert into org_members (org_id, user_id, role, created_at) values (${id}, ${user}, 'owner', ${created})`.execute(
    db,
  );
  await sql`insert into teams (id, org_id, name, created_at, updated_at) values (${`team_${id}`}, ${id}, 'Team', ${created}, ${created})`.execute(
    db,
  );
  await sql`insert into team_members (team_id, org_id, user_id, role, created_at)
            values (${`team_${id}`}, ${id}, ${user}, 'admin', ${created})`.execute(db);
  await sql`insert into invitations (id, org_id, email, role, team_id, token_hash, invited_by, expires_at, created_at)
            values (${`inv_${id}`}, ${id}, 'guest@example.com', 'member', null, ${`hash_${id}`}, ${user}, ${created + dayMs}, ${created})`.execute(
    db,
  );
  await sql`insert into api_keys (id, name, user_id, key_hash, key_prefix, created_at, org_id)
            values (${`key_${id}`}, 'key', ${user}, ${`keyhash_${id}`}, 'sk-aihub-x', ${created}, ${id})`.execute(db);
  await sql`insert into usage_records (id, request_id, created_at, key_id, model, endpoint, streamed, prompt_tokens,
              completion_tokens, cached_tokens, usage_source, cost_micros, latency_ms, status, outcome)
            values (${`usage_${id}`}, ${`req_${id}`}, ${created}, ${`key_${id}`}, 'gpt-test', 'chat', 0, 1, 1, 0,
              'upstream', 1, 1, 200, 'success')`.execute(db);
  await sql`insert into audit_events (id, org_id, action, target_type, target_id, created_at)
            values (${`audit_${id}`}, ${id}, 'organization.create', 'organization', ${id}, ${created})`.execute(db);
  // The organization's own registry: a provider with a key and a model deployed on it (children go by foreign key).
  await sql`insert into providers (pk, org_id, id, type, base_url, created_at, updated_at)
            values (${`prov_${id}`}, ${id}, 'own', 'openai', 'https://api.example.com/v1', ${created}, ${created})`.execute(
    db,
  );
  await sql`insert into provider_credentials (pk, provider_pk, id, api_key_sealed, weight, created_at, updated_at)
            values (${`cred_${id}`}, ${`prov_${id}`}, 'default', 'v1:x:y:z', 1, ${created}, ${created})`.execute(db);
  await sql`insert into models (pk, org_id, name, kind, aliases, created_at, updated_at)
            values (${`model_${id}`}, ${id}, 'own-model', 'chat', '[]', ${created}, ${created})`.execute(db);
  await sql`insert into model_deployments (pk, model_pk, position, provider_id, upstream_model)
            values (${`dep_${id}`}, ${`model_${id}`}, 0, 'own', 'upstream')`.execute(db);
  // Its traffic control: a limit, a budget and an alert that budget raised.
  await sql`insert into traffic_limits (id, org_id, subject_type, subject_id, model, rpm_limit, created_at, updated_at)
            values (${`limit_${id}`}, ${id}, 'organization', ${id}, '', 10, ${created}, ${created})`.execute(db);
  await sql`insert into budgets (id, org_id, subject_type, subject_id, amount_micros, period, alert_thresholds,
              created_at, updated_at)
            values (${`budget_${id}`}, ${id}, 'organization', ${id}, 100, 'day', '[50]', ${created}, ${created})`.execute(
    db,
  );
  await sql`insert into budget_alerts (id, org_id, budget_ref, subject_type, subject_id, period_start, threshold,
              amount_micros, spent_micros, created_at)
            values (${`alert_${id}`}, ${id}, ${`budget_${id}`}, 'organization', ${id}, 0, 50, 100, 60, ${created})`.execute(
    db,
  );
}

async function countRows(db: Database, table: string, column: string, value: string): Promise<number> {
  const result = await sql<{ count: number | string }>`select count(*) as count from ${sql.table(table)}
                                                       where ${sql.ref(column)} = ${value}`.execute(db);
  return Number(result.rows[0]?.count ?? 0);
}

async function rowsOf(db: Database, orgId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {
    organizations: await countRows(db, 'organizations', 'id', orgId),
    usage_records: await countRows(db, 'usage_records', 'key_id', `key_${orgId}`),
    audit_events: await countRows(db, 'audit_events', 'target_id', orgId),
  };
  for (const table of organizationOwnedTables) counts[table] = await countRows(db, table, 'org_id', orgId);
  return counts;
}

describe.each(testEngines)('purge of deleted organizations (%s)', (engine) => {
  let database: TestDatabase;
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('deletes every row of organizations past their purge date, in one go, with an audit event', async () => {
    database = await createTestDatabase(engine);
    const db = database.handle.db;
    await migrateToLatest(db);
    await seedOrganization(db, 'expired', now - retentionMs - 1);
    await seedOrganization(db, 'exactly', now - retentionMs);
    await seedOrganization(db, 'recent', now - retentionMs + dayMs);
    await seedOrganization(db, 'live', null);

    const purged = await new OrganizationPurge(db).purgeExpired(now);

    expect(purged.map((organization) => organization.id)).toEqual(['expired', 'exactly']);
    expect(purged[0]?.rows).toEqual({
      usage_records: 1,
      team_members: 1,
      invitations: 1,
      org_members: 1,
      api_keys: 1,
      teams: 1,
      models: 1,
      providers: 1,
      traffic_limits: 1,
      budgets: 1,
      budget_alerts: 1,
      organizations: 1,
    });
    for (const gone of ['expired', 'exactly']) {
      // The audit trail outlives the organization: its own events plus the purge event stay.
      expect(await rowsOf(db, gone)).toEqual({
        organizations: 0,
        usage_records: 0,
        audit_events: 2,
        team_members: 0,
        invitations: 0,
        org_members: 0,
        api_keys: 0,
        teams: 0,
        models: 0,
        providers: 0,
        traffic_limits: 0,
        budgets: 0,
        budget_alerts: 0,
      });
    }
    const untouched = {
      organizations: 1,
      usage_records: 1,
      audit_events: 1,
      team_members: 1,
      invitations: 1,
      org_members: 1,
      api_keys: 1,
      teams: 1,
      models: 1,
      providers: 1,
      traffic_limits: 1,
      budgets: 1,
      budget_alerts: 1,
    };
    expect(await rowsOf(db, 'recent')).toEqual(untouched);
    expect(await rowsOf(db, 'live')).toEqual(untouched);

    const events = await db
      .selectFrom('audit_events')
      .select(['org_id', 'actor_user_id', 'target_id', 'before', 'after', 'created_at'])
      .where('action', '=', 'organization.purge')
      .orderBy('target_id')
      .execute();
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ org_id: null, actor_user_id: null, target_id: 'expired', created_at: now });
    expect(JSON.parse(events[1]!.before!)).toEqual({
      id: 'expired',
      name: 'Org expired',
      deleted_at: now - retentionMs - 1,
    });
    expect(JSON.parse(events[1]!.after!)).toMatchObject({ purged_at: now, deleted_rows: { organizations: 1 } });
    // Credentials and deployments went with their provider and model; the live organizations keep theirs.
    const credentials = await db.selectFrom('provider_credentials').select('pk').orderBy('pk').execute();
    expect(credentials.map((row) => row.pk)).toEqual(['cred_live', 'cred_recent']);
    const deployments = await db.selectFrom('model_deployments').select('pk').orderBy('pk').execute();
    expect(deployments.map((row) => row.pk)).toEqual(['dep_live', 'dep_recent']);

    expect(await new OrganizationPurge(db).purgeExpired(now)).toEqual([]);
  });

  it('purges each organization once when several instances run the purge at the same time', async () => {
    database = await createTestDatabase(engine);
    const db = database.handle.db;
    await migrateToLatest(db);
    for (const id of ['first', 'second', 'third']) await seedOrganization(db, id, now - retentionMs - 1);

    const runs = await Promise.all([1, 2, 3].map(() => new OrganizationPurge(db).purgeExpired(now)));

    const purgedIds = runs.flatMap((purged) => purged.map((organization) => organization.id));
    expect(purgedIds.sort()).toEqual(['first', 'second', 'third']);
    const events = await db
      .selectFrom('audit_events')
      .select('target_id')
      .where('action', '=', 'organization.purge')
      .orderBy('target_id')
      .execute();
    expect(events.map((event) => event.target_id)).toEqual(['first', 'second', 'third']);
  });
});

describe('the purge knows every tenant table', () => {
  it('covers each table with an org_id column, except the append-only audit trail', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      await migrateToLatest(database.handle.db);
      const tables = await database.handle.db.introspection.getTables();
      const withOrgId = tables
        .filter((table) => table.columns.some((column) => column.name === 'org_id'))
        .map((table) => table.name)
        .sort();
      expect(withOrgId).toEqual([...organizationOwnedTables, 'audit_events'].sort());
    } finally {
      await database.handle.close();
      await database.drop();
    }
  });
});

describe('aihub purge', () => {
  let dataDir: string | undefined;
  afterEach(() => {
    vi.unstubAllEnvs();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('purges expired organizations on the configured database and says what it did', async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-purge-'));
    vi.stubEnv('AIHUB_DATA_DIR', dataDir);
    vi.stubEnv('AIHUB_CONFIG', '');
    vi.stubEnv('DATABASE_URL', '');
    const handle = openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(handle.db);
    await seedOrganization(handle.db, 'old', Date.now() - retentionMs - dayMs);
    await handle.close();

    const lines: string[] = [];
    expect(await runCli(['node', 'aihub', 'purge'], (line) => lines.push(line))).toBe(0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^purged organization old \(Org old\), deleted \S+: 12 rows$/);
    expect(lines[1]).toBe('purged 1 organization');

    lines.length = 0;
    expect(await runCli(['node', 'aihub', 'purge'], (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([
      `nothing to purge (organizations are purged ${deletedOrganizationRetentionDays} days after deletion)`,
    ]);
  });
});

describe('aihub serve', () => {
  let dataDir: string | undefined;
  afterEach(() => {
    killLeftoverProcesses();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('purges expired organizations on its own while it runs', async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-serve-purge-'));
    const handle = openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(handle.db);
    await seedOrganization(handle.db, 'stale', Date.now() - retentionMs - dayMs);
    await handle.close();

    const server = startCli(['serve', '--port', '0'], { AIHUB_DATA_DIR: dataDir, AIHUB_LOG_LEVEL: 'info' });
    await server.waitForOutput(/"organizations":\["stale"\],"msg":"purged deleted organizations"/);
    expect(await server.stop()).toBe(0);

    const after = openDatabase({ databaseUrl: undefined, dataDir });
    try {
      expect(await rowsOf(after.db, 'stale')).toMatchObject({ organizations: 0, api_keys: 0, usage_records: 0 });
    } finally {
      await after.close();
    }
  });
});
