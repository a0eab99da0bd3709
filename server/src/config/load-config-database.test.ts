import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.ts';

let root: string;
let dataDir: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'aihub-config-database-'));
  dataDir = path.join(root, 'data');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const load = (environment: Record<string, string> = {}) =>
  loadConfig({ environment: { AIHUB_DATA_DIR: dataDir, ...environment } });

describe('database timeouts and the usage backlog settings', () => {
  it('default to a 2 s connect timeout, a 5 s statement timeout, 50,000 records in memory and 5 s between retries', () => {
    const config = load();
    expect(config.databaseTimeouts).toEqual({ connectTimeoutMs: 2000, queryTimeoutMs: 5000 });
    expect(config.metering).toMatchObject({ maxPendingInMemory: 50_000, retryMaxMs: 5000 });
  });

  it('are read from the environment', () => {
    const config = load({
      AIHUB_DB_CONNECT_TIMEOUT_MS: '750',
      AIHUB_DB_QUERY_TIMEOUT_MS: '30000',
      AIHUB_METER_MAX_PENDING: '200000',
      AIHUB_METER_RETRY_MAX_MS: '10000',
    });
    expect(config.databaseTimeouts).toEqual({ connectTimeoutMs: 750, queryTimeoutMs: 30_000 });
    expect(config.metering).toMatchObject({ maxPendingInMemory: 200_000, retryMaxMs: 10_000 });
  });

  it.each([
    ['AIHUB_DB_CONNECT_TIMEOUT_MS', '0'],
    ['AIHUB_DB_QUERY_TIMEOUT_MS', 'soon'],
    ['AIHUB_METER_MAX_PENDING', '10'],
    ['AIHUB_METER_RETRY_MAX_MS', '-1'],
  ])('refuse a bad %s, naming it', (name, value) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError);
    expect(() => load({ [name]: value })).toThrow(name);
  });

  it('create the data directory owner-only when generating the secret key', () => {
    load();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
  });
});
