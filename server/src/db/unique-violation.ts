import { AppError } from '../errors/app-error.ts';

const postgresUniqueViolation = '23505';
const sqliteUniqueViolations = new Set([1555, 2067]); // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE

/** Whether a database error is a unique or primary-key violation, on PostgreSQL or node:sqlite. */
export function isUniqueViolation(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  return code === postgresUniqueViolation || (typeof errcode === 'number' && sqliteUniqueViolations.has(errcode));
}

/**
 * Runs a write whose uniqueness was checked first; when a concurrent request won the race the database refuses the
 * duplicate, and the caller gets the same 409 the check would have given instead of a 500.
 */
export async function conflictOnDuplicate<Result>(write: Promise<Result>, message: string): Promise<Result> {
  try {
    return await write;
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('conflict', message, { cause: error });
    throw error;
  }
}
