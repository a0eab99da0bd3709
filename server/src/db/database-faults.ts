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
 * (class 08), administrator or crash shutdown (a terminated backend, a restart, a failover), startup in progress,
 * too many connections, and a statement cancelled by our own statement timeout.
 */
const unavailableSqlStates = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** What `pg` says when a connection dies or a timeout of ours fires; it gives these errors no code. */
const driverMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Connection terminated due to connection timeout',
];

/** Whether an error from the database driver means "the database is unreachable", as opposed to a bad statement. */
export function isDatabaseUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof AppError) return error.code === 'database_unavailable';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (socketErrorCodes.has(code) || unavailableSqlStates.has(code) || code.startsWith('08')) return true;
  }
  return driverMessages.some((message) => error.message.includes(message));
}

/** Seconds a client is told to wait before retrying a call refused for want of a database. */
export const databaseRetryAfterSeconds = 2;

/** The one error every database outage surfaces as: 503, retryable, with the driver's error as its cause. */
export function databaseUnavailable(cause: unknown): AppError {
  if (cause instanceof AppError && cause.code === 'database_unavailable') return cause;
  return new AppError('database_unavailable', 'the database is not reachable; try again shortly', {
    cause,
    isRetryable: true,
    retryAfterSeconds: databaseRetryAfterSeconds,
  });
}
