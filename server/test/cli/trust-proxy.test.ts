import { afterEach, describe, expect, it } from 'vitest';
import type { OperationsConfig, TrustProxySetting } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { createTestKey } from '../support/test-keys.ts';

/**
 * Behind a load balancer every connection comes from the balancer. With trust_proxy set to the balancer's address,
 * the key IP allowlist sees the client from X-Forwarded-For; with it off (the default) the header is ignored, so no
 * client can claim an address it does not have.
 */

const balancer = '10.0.0.2';
const client = '203.0.113.7';

let testApp: TestApp | undefined;
afterEach(async () => {
  await testApp?.close();
  testApp = undefined;
});

async function modelsFrom(trustProxy: TrustProxySetting, forwardedFor: string | undefined): Promise<number> {
  const operations: OperationsConfig = {
    demoProvider: false,
    trustProxy,
    shutdownDrainDelayMs: 0,
    shutdownTimeoutMs: 30_000,
    purgeIntervalMs: 0,
    redisUrl: undefined,
  };
  testApp = await startTestApp({ overrides: { operations } });
  const { secret } = await createTestKey(testApp, { ipAllowlist: [client] });
  const response = await testApp.instance.app.inject({
    method: 'GET',
    url: '/v1/models',
    remoteAddress: balancer,
    headers: { authorization: `Bearer ${secret}`, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
  });
  await testApp.close();
  testApp = undefined;
  return response.statusCode;
}

describe('trust_proxy', () => {
  it('is off by default: X-Forwarded-For is ignored and the allowlist sees the balancer', async () => {
    expect(
      loadConfig({ environment: {}, generateSecretKey: false, overrides: { secretKey: Buffer.alloc(32) } }).operations
        .trustProxy,
    ).toBe(false);
    expect(await modelsFrom(false, client)).toBe(403);
  });

  it('with the balancer trusted, the allowlist sees the client it forwards', async () => {
    expect(await modelsFrom([balancer], client)).toBe(200);
    expect(await modelsFrom(['10.0.0.0/8'], `198.51.100.1, ${client}`)).toBe(200);
    expect(await modelsFrom(1, client)).toBe(200);
  });

  it('trusts only the named proxies: a header from elsewhere does not move the client address', async () => {
    expect(await modelsFrom(['192.0.2.1'], client)).toBe(403);
    // One hop trusted: the address the balancer saw (the last entry) is the client, not what the client wrote.
    expect(await modelsFrom(1, `${client}, 198.51.100.1`)).toBe(403);
  });
});
