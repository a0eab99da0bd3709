import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

/** Owner-only permissions for everything under the data directory: it holds usage, accounts and the secret key. */
const privateDirectoryMode = 0o700;
export const privateFileMode = 0o600;

/**
 * Creates the directory owner-only, or tightens an existing one that others can read or enter. The mode given to
 * mkdir is filtered by the umask, so it is set explicitly afterwards.
 */
export function ensurePrivateDirectory(directory: string): void {
  mkdirSync(directory, { recursive: true, mode: privateDirectoryMode });
  tightenMode(directory, privateDirectoryMode);
}

/**
 * Creates the file owner-only before anyone else opens it, or tightens an existing one. SQLite gives its -wal and
 * -shm files the permissions of the database file, so creating the database file this way covers them too.
 */
export function ensurePrivateFile(filePath: string): void {
  closeSync(openSync(filePath, 'a', privateFileMode));
  tightenMode(filePath, privateFileMode);
}

/** Tightens a file that may exist (e.g. left by an older version with looser permissions). */
export function tightenIfPresent(filePath: string): void {
  try {
    tightenMode(filePath, privateFileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function tightenMode(filePath: string, mode: number): void {
  if ((statSync(filePath).mode & 0o777) !== mode) chmodSync(filePath, mode);
}
