import { describe, expect, it } from 'vitest';
import { defaultKeyScopes, validateKeySettings } from './key-settings.ts';

const now = 1_750_000_000_000;

describe('validateKeySettings', () => {
  it('leaves absent fields absent, so a partial update changes only what was sent', () => {
    expect(validateKeySettings({}, now)).toEqual({});
    expect(validateKeySettings({ rpmLimit: 5 }, now)).toEqual({ rpmLimit: 5 });
  });

  it('keeps null as "clear" for every nullable setting', () => {
    const cleared = {
      allowedModels: null,
      ipAllowlist: null,
      expiresAt: null,
      rpmLimit: null,
      tpmLimit: null,
      budgetMicros: null,
    };
    expect(validateKeySettings(cleared, now)).toEqual(cleared);
  });

  it('stores scopes once each, in the closed list order; null means the default gateway scopes', () => {
    expect(validateKeySettings({ scopes: ['management:write', 'chat', 'chat'] }, now).scopes).toEqual([
      'chat',
      'management:write',
    ]);
    expect(validateKeySettings({ scopes: null }, now).scopes).toEqual(defaultKeyScopes);
  });

  it('trims names and model names and removes repeated models', () => {
    expect(validateKeySettings({ name: '  ci  ', allowedModels: [' a', 'b ', 'a'] }, now)).toEqual({
      name: 'ci',
      allowedModels: ['a', 'b'],
    });
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ name: 'x'.repeat(201) }, 'name'],
    [{ scopes: [] }, 'scopes'],
    [{ scopes: ['chat', 'root'] }, 'scopes[1]'],
    [{ allowedModels: [] }, 'allowed_models'],
    [{ allowedModels: ['ok', '  '] }, 'allowed_models[1]'],
    [{ ipAllowlist: ['10.0.0.0/8', 'nope'] }, 'ip_allowlist[1]'],
    [{ expiresAt: now }, 'expires_at'],
    [{ expiresAt: now - 1 }, 'expires_at'],
    [{ expiresAt: Number.NaN }, 'expires_at'],
    [{ rpmLimit: 0 }, 'rpm_limit'],
    [{ rpmLimit: 2 ** 31 }, 'rpm_limit'],
    [{ tpmLimit: 1.5 }, 'tpm_limit'],
    [{ budgetMicros: -1 }, 'budget_micros'],
    [{ budgetMicros: Number.MAX_SAFE_INTEGER + 2 }, 'budget_micros'],
    [{ concurrencyLimit: 0 }, 'concurrency_limit'],
    [{ concurrencyLimit: 100_001 }, 'concurrency_limit'],
    [{ concurrencyLimit: 2.5 }, 'concurrency_limit'],
    [{ budgetPeriod: 'year' }, 'budget_period'],
  ])('rejects %j on %s', (input, param) => {
    expect(() => validateKeySettings(input, now)).toThrow(expect.objectContaining({ param, code: 'invalid_request' }));
  });

  it('accepts a zero budget and the largest per-minute limit', () => {
    expect(validateKeySettings({ budgetMicros: 0, rpmLimit: 2 ** 31 - 1 }, now)).toEqual({
      budgetMicros: 0,
      rpmLimit: 2 ** 31 - 1,
    });
  });

  it('accepts the concurrency bounds and every budget period', () => {
    expect(validateKeySettings({ concurrencyLimit: 100_000, budgetPeriod: 'week' }, now)).toEqual({
      concurrencyLimit: 100_000,
      budgetPeriod: 'week',
    });
    expect(validateKeySettings({ concurrencyLimit: 1, budgetPeriod: 'total' }, now)).toEqual({
      concurrencyLimit: 1,
      budgetPeriod: 'total',
    });
  });

  it('lets the operator create a key that is already expired', () => {
    expect(validateKeySettings({ expiresAt: now - 1 }, now, { allowPastExpiry: true })).toEqual({ expiresAt: now - 1 });
  });
});
