import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { createApp } from '../../src/http/create-app.ts';
import { testKey } from '../support/test-app.ts';

/**
 * The data directory holds every account, key hash, usage record and the secret key: nobody but the service's own
 * user may read it, whatever the umask, including files SQLite and the journal create later.
 */

const modeOf = (filePath: string) => statSync(filePath).mode & 0o777;

let root: string;
let previousUmask: number;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'aihub-modes-'));
  // The usual permissive umask: files would be 0644 and directories 0755 if nothing took care.
  previousUmask = process.umask(0o022);
});
afterEach(() => {
  process.umask(previousUmask);
  rmSync(root, { recursive: true, force: true });
});

describe('files under the data directory', () => {
  it('are owner-only from the start: directory, database, WAL and shared-memory files, journal, secret key', async () => {
    const dataDir = path.join(root, 'data');
    const config = loadConfig({
      environment: {},
      overrides: { dataDir, bootstrapKey: testKey, logLevel: 'silent' },
    });
    const instance = await createApp(config, { logger: false });
    try {
      const models = await instance.app.inject({
        method: 'GET',
        url: '/v1/models',
        headers: { authorization: `Bearer ${testKey}` },
      });
      expect(models.statusCode).toBe(200);
      await instance.services.usage.insertBatch([]);
      const journalDir = path.join(dataDir, 'usage-journal');

      expect(modeOf(dataDir)).toBe(0o700);
      expect(modeOf(journalDir)).toBe(0o700);
      const files = [
        path.join(dataDir, 'secret.key'),
        path.join(dataDir, 'aihub.db'),
        path.join(dataDir, 'aihub.db-wal'),
        path.join(dataDir, 'aihub.db-shm'),
        ...readdirSync(journalDir).map((name) => path.join(journalDir, name)),
      ];
      expect(files.filter((file) => !existsSync(file))).toEqual([]);
      expect(readdirSync(journalDir).length).toBeGreaterThan(0);
      for (const file of files) expect(modeOf(file), file).toBe(0o600);
    } finally {
      await instance.close();
    }
  });

  it('are tightened when an older installation left them readable by others', async () => {
    const dataDir = path.join(root, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, 'secret.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o644 });
    const first = openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(first.db);
    await first.close();
    for (const name of ['aihub.db', 'secret.key']) chmodSync(path.join(dataDir, name), 0o644);
    chmodSync(dataDir, 0o755);

    const reopened = openDatabase({ databaseUrl: undefined, dataDir });
    await reopened.close();

    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(path.join(dataDir, 'aihub.db'))).toBe(0o600);
    expect(modeOf(path.join(dataDir, 'secret.key'))).toBe(0o600);
  });
});
