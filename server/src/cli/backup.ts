import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { migrationProvider } from '../db/migrations/index.ts';
import {
  backupSqliteFile,
  restoreSqliteFile,
  SqliteFileError,
  sqliteFileName,
  verifySqliteFile,
} from '../db/sqlite-maintenance.ts';
import { CommandError } from './command-error.ts';
import { serverPidFileName } from './serve.ts';

/** `aihub backup <file>`: an online, consistent copy of the embedded database, verified before it is kept. */
export async function runBackup(config: Config, file: string, output: (line: string) => void): Promise<void> {
  requireEmbedded(config, 'backup', 'pg_dump');
  const target = path.resolve(file);
  try {
    const report = await backupSqliteFile(path.join(config.dataDir, sqliteFileName), target);
    output(
      `backup written to ${target} (${report.bytes} bytes, integrity ok, ${report.migrations.length} migrations applied)`,
    );
    output(
      `Keep ${path.join(config.dataDir, 'secret.key')} (or AIHUB_SECRET_KEY) with it: stored provider credentials need that key.`,
    );
  } catch (error) {
    if (error instanceof SqliteFileError) throw new CommandError(error.message);
    throw error;
  }
}

/**
 * `aihub restore <file>`: replaces the embedded database with a backup after checking it. Refuses while a server
 * runs on this data dir (its open connection would keep writing the old file) unless `force` is given.
 */
export async function runRestore(
  config: Config,
  file: string,
  options: { force: boolean; now?: number },
  output: (line: string) => void,
): Promise<void> {
  requireEmbedded(config, 'restore', 'pg_restore');
  const backupFile = path.resolve(file);
  const runningPid = findRunningServer(config.dataDir);
  if (runningPid !== undefined && !options.force) {
    throw new CommandError(
      `a server (pid ${runningPid}) is using ${config.dataDir}: stop it first, or pass --force if it is not AI Hub's`,
    );
  }
  try {
    const report = verifySqliteFile(backupFile);
    const migrationNames = Object.keys(await migrationProvider.getMigrations());
    const unknown = report.migrations.filter((name) => !migrationNames.includes(name));
    if (unknown.length > 0) {
      throw new CommandError(
        `${backupFile} was made by a newer AI Hub (migrations ${unknown.join(', ')}); upgrade before restoring it`,
      );
    }
    const databaseFile = path.join(config.dataDir, sqliteFileName);
    const keptAs = restoreSqliteFile(backupFile, databaseFile, options.now ?? Date.now());
    output(
      `restored ${backupFile} into ${databaseFile} (integrity ok, ${report.migrations.length} migrations applied)`,
    );
    if (keptAs) output(`the previous database is kept as ${keptAs}`);
  } catch (error) {
    if (error instanceof SqliteFileError) throw new CommandError(error.message);
    throw error;
  }
}

function requireEmbedded(config: Config, command: string, tool: string): void {
  if (config.databaseUrl) {
    throw new CommandError(`${command} works on the embedded SQLite database; with DATABASE_URL set, use ${tool}`);
  }
}

/** The pid recorded by a running `serve` on this data dir, if that process is still alive. */
export function findRunningServer(dataDir: string): number | undefined {
  const pidFile = path.join(dataDir, serverPidFileName);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive but someone else's; ESRCH: gone (a crash left the file behind).
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
