import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseFault, type DatabaseHandle } from '../../src/db/database.ts';
import { isAppError } from '../../src/errors/app-error.ts';
import { runPostgresAdmin, testPostgresUrl } from '../support/test-database.ts';

/**
 * A pooled PostgreSQL connection can die under the process at any time: a backend terminated by an operator, a
 * database restart or failover, the server's idle timeout. Without an 'error' listener Node turns that into an
 * uncaught exception and the whole instance exits; here the pool loses one connection, says so once, and carries on.
 */

async function backendPid(executor: DatabaseHandle['db']): Promise<number> {
  const result = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(executor);
  return result.rows[0]!.pid;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a dropped pooled PostgreSQL connection', () => {
  let schema: string;
  let dataDir: string;
  let database: DatabaseHandle;
  let faults: DatabaseFault[];

  beforeEach(async () => {
    schema = `drop_${process.pid}_${Date.now().toString(36)}`;
    await runPostgresAdmin(`create schema ${schema}`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-drop-'));
    database = openDatabase({
      databaseUrl: testPostgresUrl,
      dataDir,
      postgresSchema: schema,
      poolSize: 2,
      connectTimeoutMs: 2000,
      queryTimeoutMs: 500,
    });
    faults = [];
    database.observe((fault) => faults.push(fault));
  });
  afterEach(async () => {
    await database.close();
    await runPostgresAdmin(`drop schema if exists ${schema} cascade`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is dropped from the pool when it dies idle, and the next statement gets a fresh connection', async () => {
    const pid = await backendPid(database.db);

    await runPostgresAdmin(`select pg_terminate_backend(${pid})`);
    await waitFor(() => faults.length > 0, 'the pool to notice the lost connection');

    expect(faults).toEqual([expect.objectContaining({ kind: 'connection_lost' })]);
    expect(await backendPid(database.db)).not.toBe(pid);
    expect(database.reachability().reachable).toBe(true);
  });

  it('fails the transaction it was in with database_unavailable, and the pool carries on', async () => {
    const transaction = database.db.transaction().execute(async (trx) => {
      const pid = await backendPid(trx);
      await runPostgresAdmin(`select pg_terminate_backend(${pid})`);
      // The connection dies between two statements, while the transaction holds it.
      await waitFor(() => faults.length > 0, 'the client to report its lost connection');
      await sql`select 1`.execute(trx);
    });

    const error: unknown = await transaction.catch((caught: unknown) => caught);
    expect(isAppError(error) && error.code).toBe('database_unavailable');
    expect(isAppError(error) && error.status).toBe(503);

    const result = await sql<{ one: number }>`select 1 as one`.execute(database.db);
    expect(result.rows).toEqual([{ one: 1 }]);
    expect(database.reachability().reachable).toBe(true);
    expect(faults.map((fault) => fault.kind)).toEqual(['connection_lost', 'unavailable', 'recovered']);
  });

  it('tells a lost connection once, not once per connection, when a failover drops them all', async () => {
    // Check out both pooled connections at once so each is a separate backend, then return them idle.
    let arrived = 0;
    const holdBoth = (connection: DatabaseHandle['db']) =>
      backendPid(connection).then(async (pid) => {
        arrived += 1;
        await waitFor(() => arrived === 2, 'both connections to be checked out');
        return pid;
      });
    const pids = await Promise.all([
      database.db.connection().execute(holdBoth),
      database.db.connection().execute(holdBoth),
    ]);
    expect(new Set(pids).size).toBe(2);

    await runPostgresAdmin(`select pg_terminate_backend(pid) from pg_stat_activity where pid in (${pids.join(', ')})`);
    await waitFor(() => faults.length > 0, 'the pool to notice');
    // Give the second connection's error time to arrive too: it must not be told again.
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(faults.map((fault) => fault.kind)).toEqual(['connection_lost']);
    expect(await backendPid(database.db)).not.toBeOneOf(pids);
  });

  it('answers a statement that outruns the statement timeout with database_unavailable', async () => {
    const error: unknown = await sql`select pg_sleep(3)`.execute(database.db).catch((caught: unknown) => caught);

    expect(isAppError(error) && error.code).toBe('database_unavailable');
    // The server cancelled it (SQLSTATE 57014): a slow statement, not an outage. Nothing else fails fast because of it.
    expect(database.reachability().reachable).toBe(true);
    expect(faults).toEqual([]);
    expect(await sql<{ one: number }>`select 1 as one`.execute(database.db)).toMatchObject({ rows: [{ one: 1 }] });
  });
});
