import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.ts';
import { assertWithinAuthority, inheritAuthority, type KeyBounds } from './key-authority.ts';

const restricted: KeyBounds = {
  scopes: ['chat', 'management:write'],
  allowedModels: ['gpt-a', 'gpt-b'],
  ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
  expiresAt: 2_000,
  rpmLimit: 100,
  tpmLimit: 10_000,
  concurrencyLimit: 8,
  budgetMicros: 5_000_000,
  budgetPeriod: 'month',
  teamId: 'team-1',
};

const unrestricted: KeyBounds = {
  scopes: ['chat', 'embeddings', 'models', 'management:read', 'management:write'],
  allowedModels: null,
  ipAllowlist: null,
  expiresAt: null,
  rpmLimit: null,
  tpmLimit: null,
  concurrencyLimit: null,
  budgetMicros: null,
  budgetPeriod: 'total',
  teamId: null,
};

function refusal(requested: Partial<KeyBounds>, authority: KeyBounds = restricted): string | undefined {
  try {
    assertWithinAuthority(authority, requested);
    return undefined;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('forbidden');
    return error.param;
  }
}

describe('assertWithinAuthority', () => {
  it('accepts anything within, field by field, including the bounds themselves', () => {
    expect(refusal(restricted)).toBeUndefined();
    expect(
      refusal({
        scopes: ['chat'],
        allowedModels: ['gpt-b'],
        ipAllowlist: ['10.20.0.0/16', '10.1.2.3', '2001:db8:1::/48'],
        expiresAt: 1_000,
        rpmLimit: 1,
        tpmLimit: 10_000,
        concurrencyLimit: 8,
        budgetMicros: 0,
        budgetPeriod: 'day',
        teamId: 'team-1',
      }),
    ).toBeUndefined();
    expect(refusal({ allowedModels: null, ipAllowlist: null, expiresAt: null }, unrestricted)).toBeUndefined();
  });

  it.each([
    ['a scope it lacks', { scopes: ['chat', 'embeddings'] }, 'scopes'],
    ['every model', { allowedModels: null }, 'allowed_models'],
    ['a model outside its list', { allowedModels: ['gpt-a', 'gpt-c'] }, 'allowed_models'],
    ['every address', { ipAllowlist: null }, 'ip_allowlist'],
    ['a wider range', { ipAllowlist: ['10.0.0.0/7'] }, 'ip_allowlist'],
    ['an address outside', { ipAllowlist: ['11.0.0.1'] }, 'ip_allowlist'],
    ['an IPv6 range outside', { ipAllowlist: ['2001:db9::/48'] }, 'ip_allowlist'],
    [
      'the IPv4-mapped form of an allowed address, as another family',
      { ipAllowlist: ['::ffff:10.0.0.1'] },
      'ip_allowlist',
    ],
    ['no rpm limit', { rpmLimit: null }, 'rpm_limit'],
    ['a higher tpm limit', { tpmLimit: 10_001 }, 'tpm_limit'],
    ['no concurrency limit', { concurrencyLimit: null }, 'concurrency_limit'],
    ['a higher concurrency limit', { concurrencyLimit: 9 }, 'concurrency_limit'],
    ['a bigger budget', { budgetMicros: 5_000_001 }, 'budget_micros'],
    ['a key that never expires', { expiresAt: null }, 'expires_at'],
    ['a later expiry', { expiresAt: 2_001 }, 'expires_at'],
    ['another team', { teamId: 'team-2' }, 'team_id'],
    ['no team', { teamId: null }, 'team_id'],
  ] as const)('refuses %s, naming the field', (_, requested, param) => {
    expect(refusal(requested as Partial<KeyBounds>)).toBe(param);
  });
});

describe('inheritAuthority', () => {
  it('gives fields left out the acting key bounds, and default scopes cut to its own', () => {
    const { teamId: _teamId, ...bounds } = restricted;
    expect(inheritAuthority(restricted, { rpmLimit: 5 })).toEqual({ ...bounds, scopes: ['chat'], rpmLimit: 5 });
  });

  it('keeps an explicit null, so that asking for unrestricted is refused rather than silently narrowed', () => {
    const inherited = inheritAuthority(restricted, { allowedModels: null });
    expect(inherited.allowedModels).toBeNull();
    expect(refusal(inherited)).toBe('allowed_models');
  });

  it('keeps the period of an inherited budget, and leaves a chosen period alone', () => {
    expect(inheritAuthority(restricted, {}).budgetPeriod).toBe('month');
    expect(inheritAuthority(restricted, { budgetMicros: 10, budgetPeriod: 'day' }).budgetPeriod).toBe('day');
  });

  it('falls back to the acting key scopes when it has none of the default ones', () => {
    expect(inheritAuthority({ ...restricted, scopes: ['management:read'] }, {}).scopes).toEqual(['management:read']);
  });
});
