import { randomBytes } from 'node:crypto';
import { startMockUpstream, type MockUpstreamHandle, type MockUpstreamOptions } from '@aihub/mock-upstream';
import type { DatabaseEngine } from '../../src/db/database.ts';
import type { Config } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { createApp, type AppInstance } from '../../src/http/create-app.ts';
import type { Mailer } from '../../src/modules/identity/index.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export const testKey = 'sk-aihub-test-bootstrap-key-000000000000';

export interface TestApp {
  readonly instance: AppInstance;
  readonly upstream: MockUpstreamHandle;
  readonly database: TestDatabase;
  readonly config: Config;
  /** The bootstrap admin's key, valid for every model. */
  readonly key: string;
  /** Headers for an authenticated JSON request. */
  headers(key?: string): Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  engine?: DatabaseEngine;
  upstream?: MockUpstreamOptions;
  /** Replaces the default model table (chat model `gpt-test` alias `test`, embedding model `embed-test`). */
  configFile?: (upstreamUrl: string) => ConfigFile;
  overrides?: Partial<Config>;
  /** Environment variables the configuration reads (provider keys named by `api_key_env`). */
  environment?: Record<string, string>;
  /** Captures account emails (see support/identity.ts); default: the log mailer. */
  mailer?: Mailer;
  /** The clock keys are judged by (expiry, rotation grace); default: the wall clock. */
  now?: () => number;
}

export function defaultTestConfigFile(upstreamUrl: string): ConfigFile {
  return {
    providers: [{ id: 'mock', type: 'openai-compatible', base_url: upstreamUrl }],
    models: [
      {
        name: 'gpt-test',
        aliases: ['test'],
        pricing: { input: '2.50', output: '10.00', cached_input: '1.25' },
        deployments: [{ provider: 'mock', model: 'mock-gpt' }],
      },
      {
        name: 'embed-test',
        kind: 'embedding',
        pricing: { input: '0.02' },
        deployments: [{ provider: 'mock', model: 'mock-embed' }],
      },
    ],
  };
}

/**
 * Routing that shows each upstream failure as it is: one attempt, breakers that never open, no waiting out an
 * upstream's rate limit. For tests of how a
 * single upstream answer maps to the client's; routing's retries and breakers have their own tests.
 */
export function withSingleAttempt(file: ConfigFile): ConfigFile {
  return {
    ...file,
    routing: {
      ...file.routing,
      retry: { max_attempts: 1 },
      breaker: { consecutive_failures: 1000, minimum_requests: 100_000 },
      respect_upstream_limits: false,
    },
  };
}

/** A whole AI Hub in-process against a mock upstream and a fresh database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const upstream = await startMockUpstream({ recordRequests: true, ...options.upstream });
  const database = await createTestDatabase(options.engine ?? 'sqlite');
  const config = loadConfig({
    environment: options.environment ?? {},
    overrides: {
      dataDir: database.dataDir,
      databaseUrl: database.databaseUrl,
      secretKey: randomBytes(32),
      bootstrapKey: testKey,
      logLevel: 'silent',
      metering: { flushIntervalMs: 20, maxBatchSize: 500 },
      keyRevocationPollMs: 50,
      ...options.overrides,
      file: (options.configFile ?? defaultTestConfigFile)(upstream.url),
    },
  });
  const instance = await createApp(config, {
    database: database.handle,
    logger: false,
    ...(options.mailer ? { mailer: options.mailer } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    instance,
    upstream,
    database,
    config,
    key: testKey,
    headers: (key = testKey) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' }),
    close: async () => {
      await instance.close();
      await upstream.close();
      await database.drop();
    },
  };
}
