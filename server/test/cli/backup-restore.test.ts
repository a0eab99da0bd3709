import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { runCli } from '../../src/cli/index.ts';
import { verifySqliteFile } from '../../src/db/sqlite-maintenance.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { killLeftoverProcesses, startCli } from './cli-process.ts';

let workDir: string;
let errorSpy: MockInstance<typeof console.error>;

beforeEach(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'aihub-backup-'));
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  vi.stubEnv('AIHUB_CONFIG', '');
  vi.stubEnv('DATABASE_URL', '');
});
afterEach(() => {
  errorSpy.mockRestore();
  vi.unstubAllEnvs();
  rmSync(workDir, { recursive: true, force: true });
});
afterAll(killLeftoverProcesses);

async function run(dataDir: string, ...commandArguments: string[]) {
  vi.stubEnv('AIHUB_DATA_DIR', dataDir);
  const lines: string[] = [];
  errorSpy.mockClear();
  const exitCode = await runCli(['node', 'aihub', ...commandArguments], (line) => lines.push(line));
  return { exitCode, lines, errors: errorSpy.mock.calls.map((call) => call.map(String).join(' ')) };
}

function countRows(file: string, table: string): number {
  const database = new DatabaseSync(file, { readOnly: true });
  try {
    return Number(database.prepare(`select count(*) as count from ${table}`).get()?.count);
  } finally {
    database.close();
  }
}

describe('aihub backup and restore (embedded SQLite)', () => {
  let testApp: TestApp | undefined;
  afterEach(async () => {
    await testApp?.close();
    testApp = undefined;
  });

  it('backs up a running database consistently while it is written, and restores it', async () => {
    testApp = await startTestApp();
    const dataDir = testApp.database.dataDir;
    const sqlite = testApp.database.handle.sqlite!;
    sqlite.exec('create table backup_pairs (id integer primary key, pair integer not null)');
    const insertPair = sqlite.prepare('insert into backup_pairs (pair) values (?)');
    // Writes keep landing between the backup's steps; each transaction adds two rows, so a consistent copy holds an
    // even number of them.
    let pairs = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        sqlite.exec('begin');
        insertPair.run(pairs);
        insertPair.run(pairs);
        sqlite.exec('commit');
        pairs += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    while (pairs < 50) await new Promise((resolve) => setImmediate(resolve));

    const backupFile = path.join(workDir, 'aihub-backup.db');
    const backup = await run(dataDir, 'backup', backupFile);
    writing = false;
    await writer;

    expect(backup.errors).toEqual([]);
    expect(backup.exitCode).toBe(0);
    expect(backup.lines[0]).toMatch(
      /^backup written to .*aihub-backup\.db \(\d+ bytes, integrity ok, \d+ migrations applied\)$/,
    );
    expect(backup.lines[1]).toMatch(/secret\.key/);
    const copied = countRows(backupFile, 'backup_pairs');
    expect(copied % 2).toBe(0);
    expect(copied).toBeGreaterThanOrEqual(100);
    expect(countRows(backupFile, 'api_keys')).toBe(1);
    // One self-contained file: no WAL beside it, nothing partial left behind.
    expect(readdirSync(workDir)).toEqual(['aihub-backup.db']);

    await testApp.instance.close();
    const databaseFile = path.join(dataDir, 'aihub.db');
    const live = new DatabaseSync(databaseFile);
    live.exec('delete from api_keys; delete from backup_pairs');
    live.close();

    const restore = await run(dataDir, 'restore', backupFile);
    expect(restore.errors).toEqual([]);
    expect(restore.exitCode).toBe(0);
    expect(restore.lines[0]).toMatch(/^restored .*aihub-backup\.db into .*aihub\.db \(integrity ok/);
    const keptAs = /^the previous database is kept as (.+)$/.exec(restore.lines[1] ?? '')?.[1];
    expect(keptAs && existsSync(keptAs)).toBe(true);
    expect(countRows(databaseFile, 'api_keys')).toBe(1);
    expect(countRows(databaseFile, 'backup_pairs')).toBe(copied);
    expect(countRows(keptAs!, 'api_keys')).toBe(0);
    expect(verifySqliteFile(databaseFile).migrations.length).toBeGreaterThan(0);
  });

  it('refuses to write over an existing file', async () => {
    testApp = await startTestApp();
    const target = path.join(workDir, 'taken.db');
    writeFileSync(target, 'keep me');
    const result = await run(testApp.database.dataDir, 'backup', target);
    expect(result.exitCode).toBe(1);
    expect(result.errors).toEqual([`aihub: ${target} already exists: choose a new file name`]);
  });

  it('refuses a file that is not an intact AI Hub database and leaves the current one alone', async () => {
    testApp = await startTestApp();
    const dataDir = testApp.database.dataDir;
    await testApp.instance.close();
    const garbage = path.join(workDir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database'.repeat(100));
    const foreign = path.join(workDir, 'foreign.db');
    const other = new DatabaseSync(foreign);
    other.exec('create table notes (text)');
    other.close();

    const notDatabase = await run(dataDir, 'restore', garbage);
    expect(notDatabase.exitCode).toBe(1);
    expect(notDatabase.errors[0]).toMatch(/^aihub: .*garbage\.db is not a SQLite database/);
    const notOurs = await run(dataDir, 'restore', foreign);
    expect(notOurs.exitCode).toBe(1);
    expect(notOurs.errors).toEqual([`aihub: ${foreign} is SQLite but not an AI Hub database (no schema_migrations)`]);
    expect(countRows(path.join(dataDir, 'aihub.db'), 'api_keys')).toBe(1);
    expect(readdirSync(dataDir).filter((name) => name.includes('restor'))).toEqual([]);
  });

  it('refuses to restore while a server runs on the data dir', async () => {
    const dataDir = path.join(workDir, 'data');
    const server = startCli(['serve', '--port', '0'], { AIHUB_DATA_DIR: dataDir, AIHUB_LOG_LEVEL: 'warn' });
    await server.waitForOutput(/^To sign in to the console/m);
    const backupFile = path.join(workDir, 'running.db');
    expect((await run(dataDir, 'backup', backupFile)).exitCode).toBe(0);

    const refused = await run(dataDir, 'restore', backupFile);
    expect(refused.exitCode).toBe(1);
    expect(refused.errors).toEqual([
      `aihub: a server (pid ${server.child.pid}) is using ${dataDir}: stop it first, or pass --force if it is not AI Hub's`,
    ]);
    expect(await server.stop()).toBe(0);
    // The server removes its pid file on a clean stop, so the restore goes ahead now.
    expect((await run(dataDir, 'restore', backupFile)).exitCode).toBe(0);
  });

  it('points PostgreSQL installations at pg_dump', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test');
    const result = await run(workDir, 'backup', path.join(workDir, 'x.db'));
    expect(result.exitCode).toBe(1);
    expect(result.errors).toEqual([
      'aihub: backup works on the embedded SQLite database; with DATABASE_URL set, use pg_dump',
    ]);
  });
});
