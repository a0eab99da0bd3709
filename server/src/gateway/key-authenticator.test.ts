import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { hashKeySecret, type KeyLookup } from '../modules/keys/index.ts';
import { KeyAuthenticator, type KeyDirectory } from './key-authenticator.ts';

const secret = 'ak-test-stale-if-unavailable';
const valid: KeyLookup = {
  status: 'valid',
  principal: {
    keyId: 'key_1',
    userId: 'user_1',
    orgId: 'org_1',
    teamId: null,
    allowedModels: null,
    scopes: new Set(),
    ipAllowlist: null,
    expiresAt: null,
    limits: { rpmLimit: null, tpmLimit: null, concurrencyLimit: null, budgetMicros: null, budgetPeriod: 'total' },
  },
};

/** A key directory whose database can be cut and whose answers can be changed between calls. */
function directory(initial: KeyLookup): KeyDirectory & { reachable: boolean; answer: KeyLookup; lookups: number } {
  const state = {
    reachable: true,
    answer: initial,
    lookups: 0,
    lookupByHash(keyHash: string): Promise<KeyLookup> {
      expect(keyHash).toBe(hashKeySecret(secret));
      state.lookups += 1;
      if (!state.reachable) return Promise.reject(new AppError('database_unavailable', 'cut'));
      return Promise.resolve(state.answer);
    },
    readRevocationEpoch: () => Promise.resolve(1),
  };
  return state;
}

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('KeyAuthenticator during a database outage', () => {
  it('keeps serving a verified key whose cache entry aged out while the database is unreachable', async () => {
    const keys = directory(valid);
    const time = clock();
    const authenticator = new KeyAuthenticator(keys, { revocationPollMs: 1000, positiveTtlMs: 60_000, now: time.now });
    expect((await authenticator.authenticate(secret)).keyId).toBe('key_1');

    keys.reachable = false;
    time.advance(10 * 60_000);
    expect((await authenticator.authenticate(secret)).keyId).toBe('key_1');
    expect(keys.lookups).toBe(2);
  });

  it('stops serving it once the stale bound passes, and applies a revocation as soon as the database answers', async () => {
    const keys = directory(valid);
    const time = clock();
    const authenticator = new KeyAuthenticator(keys, {
      revocationPollMs: 1000,
      positiveTtlMs: 60_000,
      staleIfUnavailableMs: 300_000,
      now: time.now,
    });
    await authenticator.authenticate(secret);
    keys.reachable = false;
    time.advance(301_000);
    await expect(authenticator.authenticate(secret)).rejects.toMatchObject({ code: 'database_unavailable' });

    keys.reachable = true;
    keys.answer = { status: 'revoked' };
    await expect(authenticator.authenticate(secret)).rejects.toMatchObject({ code: 'revoked_api_key' });
  });

  it('does not serve a key it never verified, nor hide errors other than an outage', async () => {
    const keys = directory(valid);
    keys.reachable = false;
    const authenticator = new KeyAuthenticator(keys, { revocationPollMs: 1000, now: clock().now });
    await expect(authenticator.authenticate(secret)).rejects.toMatchObject({ code: 'database_unavailable' });

    const failing: KeyDirectory = {
      lookupByHash: () => Promise.reject(new Error('syntax error')),
      readRevocationEpoch: () => Promise.resolve(1),
    };
    const time = clock();
    let first = true;
    const flaky: KeyDirectory = {
      lookupByHash: (hash) => {
        if (first) {
          first = false;
          return Promise.resolve(valid);
        }
        return failing.lookupByHash(hash);
      },
      readRevocationEpoch: () => Promise.resolve(1),
    };
    const other = new KeyAuthenticator(flaky, { revocationPollMs: 1000, positiveTtlMs: 1000, now: time.now });
    await other.authenticate(secret);
    time.advance(2000);
    await expect(other.authenticate(secret)).rejects.toThrow('syntax error');
  });
});
