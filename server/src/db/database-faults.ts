import { AppError } from '../errors/app-error.ts';

/** Socket-level failures: the database host refused, dropped or never answered the connection. */
const socketErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean the server cannot serve us right now, not that the statement was wrong: connection exceptions
 * (class 08), administrator or crash shutdown (a terminated backend, a restart, a failover), startup in progress.
 */
const unreachableSqlStates = new Set(['57P01', '57P02', '57P03']);

/**
 * SQLSTATEs that mean the server is there but overloaded: too many connections, or a statement cancelled by our own
 * statement timeout. The call answers 503 too, but the database is not treated as gone.
 */
const overloadedSqlStates = new Set(['53300', '57014']);

/** What `pg` says when a connection dies or a timeout of ours fires; it gives these errors no code. */
const driverMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
];

/**
 * `unreachable`: the connection failed or the server went silent (an outage); `overloaded`: the server answered but
 * could not serve the statement in time; undefined: anything else (a bad statement, a constraint), not ours to map.
 */
export type DatabaseFailureKind = 'unreachable' | 'overloaded';

export function classifyDatabaseError(error: unknown): DatabaseFailureKind | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error instanceof AppError) return error.code === 'database_unavailable' ? 'unreachable' : undefined;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_SQLITE_ERROR') return classifySqliteError(error);
  if (typeof code === 'string') {
    if (socketErrorCodes.has(code) || unreachableSqlStates.has(code) || code.startsWith('08')) return 'unreachable';
    if (overloadedSqlStates.has(code)) return 'overloaded';
  }
  return driverMessages.some((message) => error.message.includes(message)) ? 'unreachable' : undefined;
}

/**
 * SQLite result codes (the primary code is the low byte) that mean the file cannot be written now, not that the
 * statement is wrong: another process holds the lock past the busy timeout (BUSY, LOCKED), or the disk failed or
 * filled up (IOERR, FULL, CANTOPEN).
 */
const sqliteBusyCodes = new Set([5, 6]);
const sqliteStorageCodes = new Set([10, 13, 14]);

function classifySqliteError(error: Error): DatabaseFailureKind | undefined {
  const errcode = (error as { errcode?: unknown }).errcode;
  if (typeof errcode !== 'number') return undefined;
  const primary = errcode & 0xff;
  if (sqliteBusyCodes.has(primary)) return 'overloaded';
  return sqliteStorageCodes.has(primary) ? 'unreachable' : undefined;
}

/** Whether an error from the database driver means "the database cannot serve this now", not a bad statement. */
export function isDatabaseUnavailableError(error: unknown): boolean {
  return classifyDatabaseError(error) !== undefined;
}

/** Seconds a client is told to wait before retrying a call refused for want of a database. */
const databaseRetryAfterSeconds = 2;

/** The one error every database outage surfaces as: 503, retryable, with the driver's error as its cause. */
export function databaseUnavailable(cause: unknown): AppError {
  if (cause instanceof AppError && cause.code === 'database_unavailable') return cause;
  return new AppError('database_unavailable', 'the database is not reachable; try again shortly', {
    cause,
    isRetryable: true,
    retryAfterSeconds: databaseRetryAfterSeconds,
  });
}
