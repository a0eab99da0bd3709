import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { classifyDatabaseError, databaseUnavailable } from './database-faults.ts';

function driverError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe('classifyDatabaseError', () => {
  it('treats refused, reset and silent connections and terminated backends as an unreachable database', () => {
    for (const error of [
      driverError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      driverError('read ECONNRESET', 'ECONNRESET'),
      driverError('Connection terminated unexpectedly'),
      driverError('timeout exceeded when trying to connect'),
      driverError('Query read timeout'),
      driverError('terminating connection due to administrator command', '57P01'),
      driverError('the database system is starting up', '57P03'),
      driverError('connection failure', '08006'),
    ]) {
      expect(classifyDatabaseError(error), error.message).toBe('unreachable');
    }
  });

  it('treats a statement timeout and too many connections as overload: 503, but not an outage', () => {
    expect(classifyDatabaseError(driverError('canceling statement due to statement timeout', '57014'))).toBe(
      'overloaded',
    );
    expect(classifyDatabaseError(driverError('sorry, too many clients already', '53300'))).toBe('overloaded');
  });

  it('treats a locked SQLite file as overload and a failing disk as unreachable; other SQLite errors pass', () => {
    const sqliteError = (errcode: number) => Object.assign(new Error('sqlite'), { code: 'ERR_SQLITE_ERROR', errcode });
    expect(classifyDatabaseError(sqliteError(5))).toBe('overloaded');
    expect(classifyDatabaseError(sqliteError(5 | (1 << 8)))).toBe('overloaded');
    expect(classifyDatabaseError(sqliteError(13))).toBe('unreachable');
    expect(classifyDatabaseError(sqliteError(19))).toBeUndefined();
  });

  it('leaves statement errors alone: they are bugs or conflicts, not outages', () => {
    expect(classifyDatabaseError(driverError('duplicate key value', '23505'))).toBeUndefined();
    expect(classifyDatabaseError(driverError('syntax error', '42601'))).toBeUndefined();
    expect(classifyDatabaseError(new AppError('conflict', 'taken'))).toBeUndefined();
    expect(classifyDatabaseError('not an error')).toBeUndefined();
  });
});

describe('databaseUnavailable', () => {
  it('is a retryable 503 that keeps the driver error as its cause', () => {
    const cause = driverError('read ECONNRESET', 'ECONNRESET');
    const error = databaseUnavailable(cause);
    expect(error).toMatchObject({ code: 'database_unavailable', status: 503, isRetryable: true, retryAfterSeconds: 2 });
    expect(error.cause).toBe(cause);
    expect(databaseUnavailable(error)).toBe(error);
  });
});
