import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SsoTransactionSealer, stateMatches, type SsoTransaction } from './sso-transaction.ts';

const now = 1_750_000_000_000;
const transaction: SsoTransaction = {
  orgId: 'org_a',
  state: 'state-123',
  nonce: 'nonce-456',
  codeVerifier: 'verifier-789',
  redirectUri: 'https://aihub.example.com/api/v1/sso/org_a/callback',
  returnTo: '/console',
  expiresAt: now + 60_000,
};

describe('SSO transaction cookie', () => {
  const sealer = new SsoTransactionSealer(randomBytes(32));

  it('round-trips and hides its contents', () => {
    const sealed = sealer.seal(transaction);
    expect(sealed).not.toContain('verifier');
    expect(sealer.open(sealed, 'org_a', now)).toEqual(transaction);
  });

  it('does not open for another organization, after expiry, when altered, or under another key', () => {
    const sealed = sealer.seal(transaction);
    expect(sealer.open(sealed, 'org_b', now)).toBeUndefined();
    expect(sealer.open(sealed, 'org_a', transaction.expiresAt)).toBeUndefined();
    const parts = sealed.split(':');
    parts[3] = `${parts[3]?.slice(0, -2)}AA`;
    expect(sealer.open(parts.join(':'), 'org_a', now)).toBeUndefined();
    expect(new SsoTransactionSealer(randomBytes(32)).open(sealed, 'org_a', now)).toBeUndefined();
    expect(sealer.open(undefined, 'org_a', now)).toBeUndefined();
    expect(sealer.open('garbage', 'org_a', now)).toBeUndefined();
  });

  it('compares state exactly', () => {
    expect(stateMatches(transaction, 'state-123')).toBe(true);
    expect(stateMatches(transaction, 'state-124')).toBe(false);
    expect(stateMatches(transaction, 'state')).toBe(false);
    expect(stateMatches(transaction, undefined)).toBe(false);
  });
});
