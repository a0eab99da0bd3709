import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.ts';

const secretKey = Buffer.alloc(32, 1);
const withProvider = {
  providers: [{ id: 'openai', type: 'openai', base_url: 'https://api.openai.com/v1' }],
  models: [{ name: 'gpt', deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
};

function operations(environment: Record<string, string> = {}, file: unknown = {}) {
  return loadConfig({ environment, overrides: { secretKey, dataDir: '/tmp/aihub-unused', file } }).operations;
}

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError thrown');
}

describe('operations settings', () => {
  it('defaults: demo on while no provider is configured, no trusted proxy, no drain delay, 30 s deadline, hourly purge', () => {
    expect(operations()).toEqual({
      demoProvider: true,
      trustProxy: false,
      shutdownDrainDelayMs: 0,
      shutdownTimeoutMs: 30_000,
      purgeIntervalMs: 3_600_000,
      redisUrl: undefined,
    });
  });

  it('turns the demo provider off once a provider is configured, or by switch', () => {
    expect(operations({}, withProvider).demoProvider).toBe(false);
    expect(operations({ AIHUB_DEMO_PROVIDER: 'false' }).demoProvider).toBe(false);
    expect(operations({}, { server: { demo_provider: false } }).demoProvider).toBe(false);
    // Switching it on never puts the demo beside real providers.
    expect(operations({ AIHUB_DEMO_PROVIDER: 'true' }, withProvider).demoProvider).toBe(false);
  });

  it('reads trust_proxy as off, a hop count, or proxy addresses and ranges', () => {
    expect(operations({ AIHUB_TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(operations({ AIHUB_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(operations({ AIHUB_TRUST_PROXY: '10.0.0.0/8, 2001:db8::/32,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '2001:db8::/32',
      'loopback',
    ]);
    expect(operations({}, { server: { trust_proxy: ['172.16.0.0/12'] } }).trustProxy).toEqual(['172.16.0.0/12']);
    expect(operations({ AIHUB_TRUST_PROXY: '1' }, { server: { trust_proxy: ['172.16.0.0/12'] } }).trustProxy).toBe(1);
  });

  it('refuses proxy entries that are not addresses or ranges, naming the setting', () => {
    expect(errorOf(() => operations({ AIHUB_TRUST_PROXY: '10.0.0.0/33' })).message).toBe(
      'AIHUB_TRUST_PROXY: "10.0.0.0/33" is not an IP address, a CIDR range or one of loopback, linklocal, uniquelocal',
    );
    expect(errorOf(() => operations({ AIHUB_TRUST_PROXY: 'true' })).field).toBe('AIHUB_TRUST_PROXY');
    expect(errorOf(() => operations({}, { server: { trust_proxy: ['lb.internal'] } })).field).toBe(
      'server.trust_proxy',
    );
    expect(errorOf(() => operations({}, { server: { trust_proxy: true } })).field).toBe('config: server.trust_proxy');
  });

  it('reads shutdown timing, the purge interval and REDIS_URL', () => {
    expect(
      operations({
        AIHUB_SHUTDOWN_DRAIN_DELAY_MS: '5000',
        AIHUB_SHUTDOWN_TIMEOUT_MS: '120000',
        AIHUB_PURGE_INTERVAL_MS: '0',
        REDIS_URL: 'redis://cache:6379/0',
      }),
    ).toMatchObject({
      shutdownDrainDelayMs: 5000,
      shutdownTimeoutMs: 120_000,
      purgeIntervalMs: 0,
      redisUrl: 'redis://cache:6379/0',
    });
    expect(operations({}, { server: { shutdown_timeout_ms: 1000 } }).shutdownTimeoutMs).toBe(1000);
    expect(errorOf(() => operations({ REDIS_URL: 'http://cache:6379' })).field).toBe('REDIS_URL');
    expect(errorOf(() => operations({ AIHUB_SHUTDOWN_TIMEOUT_MS: '-1' })).field).toBe('AIHUB_SHUTDOWN_TIMEOUT_MS');
  });
});
