import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Variables the CLI reads through loadConfig. */
const configVariables = ['AIHUB_DATA_DIR', 'AIHUB_CONFIG', 'AIHUB_SECRET_KEY', 'DATABASE_URL'] as const;

export interface CliEnvironment {
  /** A fresh data dir, named in AIHUB_DATA_DIR. */
  dataDir: string;
  /** Puts every variable back as it was and deletes the data dir. */
  restore(): void;
}

/**
 * Gives a CLI test its own data dir and none of the caller's settings: clears the variables loadConfig reads (and
 * `extraVariables`), then points AIHUB_DATA_DIR at a new temporary directory. Call `restore` in afterEach.
 */
export function isolateCliEnvironment(prefix: string, extraVariables: readonly string[] = []): CliEnvironment {
  const names = [...configVariables, ...extraVariables];
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  const dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  process.env.AIHUB_DATA_DIR = dataDir;
  return {
    dataDir,
    restore() {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
