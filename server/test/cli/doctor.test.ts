import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startMockUpstream, type MockUpstreamHandle } from '@aihub/mock-upstream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { runDoctor } from '../../src/cli/doctor.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';

const providerSecret = 'sk-provider-secret-never-printed-0123456789';

let upstream: MockUpstreamHandle;
let dataDir: string;

beforeAll(async () => {
  upstream = await startMockUpstream({ recordRequests: true });
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-doctor-'));
  upstream.clearRequests();
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 1;
}

function writeConfig(providerUrl: string): string {
  const file = path.join(dataDir, 'aihub.yaml');
  writeFileSync(
    file,
    stringifyYaml({
      providers: [{ id: 'mock', type: 'openai-compatible', base_url: providerUrl, api_key_env: 'MOCK_PROVIDER_KEY' }],
      models: [{ name: 'gpt-test', deployments: [{ provider: 'mock', model: 'mock-gpt' }] }],
    }),
  );
  return file;
}

async function migrate(): Promise<void> {
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  await migrateToLatest(handle.db);
  await handle.close();
}

async function doctor(environment: Record<string, string>): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const exitCode = await runDoctor((line) => lines.push(line), {
    environment: { AIHUB_DATA_DIR: dataDir, MOCK_PROVIDER_KEY: providerSecret, ...environment },
    timeoutMs: 3000,
  });
  return { exitCode, lines };
}

describe('aihub doctor', () => {
  it('passes a healthy installation: config, data dir, migrated database, Redis, providers and clock', async () => {
    await migrate();
    const { exitCode, lines } = await doctor({
      AIHUB_CONFIG: writeConfig(upstream.url),
      AIHUB_SECRET_KEY: 'ab'.repeat(32),
      REDIS_URL: 'redis://127.0.0.1:6379',
    });

    expect(lines[0]).toBe('aihub doctor');
    const statuses = lines.slice(1, -1).map((line) => `${line.slice(2, 6).trim()} ${line.slice(8, 22).trim()}`);
    expect(statuses).toEqual(['ok config', 'ok data dir', 'ok database', 'ok redis', 'ok provider mock', 'ok clock']);
    expect(lines.at(-1)).toBe('All checks passed.');
    expect(exitCode).toBe(0);
    expect(lines.find((line) => line.includes('provider mock'))).toMatch(/reachable \(HTTP \d{3}\)/);
    expect(lines.find((line) => line.includes('clock'))).toMatch(/of the providers' clocks/);
    // The provider key never leaves: not printed, not sent with the reachability probe.
    expect(lines.join('\n')).not.toContain(providerSecret);
    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const request of upstream.requests) expect(request.headers.authorization).toBeUndefined();
  });

  it('fails, naming each problem, when Redis and a provider are unreachable and migrations are pending', async () => {
    const handle = new DatabaseSync(path.join(dataDir, 'aihub.db'));
    handle.exec('create table placeholder (id integer)');
    handle.close();
    const redisPort = await closedPort();
    const providerPort = await closedPort();

    const { exitCode, lines } = await doctor({
      AIHUB_CONFIG: writeConfig(`http://127.0.0.1:${providerPort}/v1`),
      REDIS_URL: `redis://:hunter2@127.0.0.1:${redisPort}/0`,
    });

    expect(exitCode).toBe(1);
    const failures = lines.filter((line) => line.startsWith('  FAIL'));
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatch(
      /database .*aihub\.db: \d+ migrations not applied \(0001-initial, .*\): run `aihub migrate`/,
    );
    expect(failures[1]).toMatch(
      new RegExp(`redis +redis://127\\.0\\.0\\.1:${redisPort}/0 not reachable: .*ECONNREFUSED`),
    );
    expect(failures[2]).toMatch(new RegExp(`provider mock +http://127\\.0\\.0\\.1:${providerPort}/v1 not reachable`));
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines.at(-1)).toBe('3 checks failed.');
  });

  it('fails on a configuration error and says which setting is wrong', async () => {
    const { exitCode, lines } = await doctor({ AIHUB_PORT: 'eighty' });
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      'aihub doctor',
      '  FAIL  config         AIHUB_PORT: must be an integer between 0 and 65535',
      '1 check failed.',
    ]);
  });

  it('fails a clock far from the servers it talks to', async () => {
    await migrate();
    const lines: string[] = [];
    const exitCode = await runDoctor((line) => lines.push(line), {
      environment: {
        AIHUB_DATA_DIR: dataDir,
        MOCK_PROVIDER_KEY: providerSecret,
        AIHUB_CONFIG: writeConfig(upstream.url),
      },
      now: () => Date.now() + 3_600_000,
    });
    expect(exitCode).toBe(1);
    expect(lines.find((line) => line.includes('clock'))).toMatch(
      /^ {2}FAIL {2}clock +\d+ s away from the providers' clocks$/,
    );
  });

  it('warns on a fresh install with no provider, where serve offers only the demo', async () => {
    const { exitCode, lines } = await doctor({});
    expect(exitCode).toBe(0);
    expect(lines.filter((line) => line.startsWith('  WARN')).map((line) => line.slice(8, 22).trim())).toEqual([
      'secret key',
      'database',
      'providers',
    ]);
  });
});
