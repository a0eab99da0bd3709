import { AppError } from '../../errors/app-error.ts';
import { normalizeIpAllowlist } from './ip-allowlist.ts';

/** Scopes a key can hold. Keys without explicit scopes (made before scopes existed) get the gateway scopes. */
export const keyScopes = ['chat', 'embeddings', 'models', 'management:read', 'management:write'] as const;
export type KeyScope = (typeof keyScopes)[number];
export const defaultKeyScopes: readonly KeyScope[] = ['chat', 'embeddings', 'models'];

/** What can be set on a key, at creation or later; every field is already validated and normalised. */
export interface KeySettings {
  name: string;
  scopes: readonly KeyScope[];
  /** Public model names the key may call, or null for all. */
  allowedModels: readonly string[] | null;
  /** IPs/CIDRs in normal form, or null for anywhere. */
  ipAllowlist: readonly string[] | null;
  expiresAt: number | null;
  /** Requests and tokens per minute, enforced by the gateway's traffic control. */
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** Requests the key may have in flight at once. */
  concurrencyLimit: number | null;
  /** Spending cap in micro-USD over `budgetPeriod`, enforced by the gateway's traffic control. */
  budgetMicros: number | null;
  /** Day, week and month begin in the organization's time zone; `total` never resets. */
  budgetPeriod: KeyBudgetPeriod;
}

export const keyBudgetPeriods = ['day', 'week', 'month', 'total'] as const;
export type KeyBudgetPeriod = (typeof keyBudgetPeriods)[number];

/** Settings as a caller gives them: any subset, unvalidated. Field names in errors are the API's (snake_case). */
export interface KeySettingsInput {
  name?: string | undefined;
  scopes?: readonly string[] | null | undefined;
  allowedModels?: readonly string[] | null | undefined;
  ipAllowlist?: readonly string[] | null | undefined;
  expiresAt?: number | null | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
  concurrencyLimit?: number | null | undefined;
  budgetMicros?: number | null | undefined;
  budgetPeriod?: string | undefined;
}

export const maxKeyNameLength = 200;
export const maxAllowedModels = 500;
/** rpm/tpm are 32-bit integer columns. */
const maxPerMinuteLimit = 2_147_483_647;
export const maxKeyConcurrencyLimit = 100_000;

/**
 * Validates the fields present in `input`; absent fields stay absent, so this serves both create and update.
 * `allowPastExpiry` is for the operator and tests, who may create a key that is already expired.
 */
export function validateKeySettings(
  input: KeySettingsInput,
  now: number,
  options: { allowPastExpiry?: boolean } = {},
): Partial<KeySettings> {
  const settings: Partial<KeySettings> = {};
  if (input.name !== undefined) settings.name = validateName(input.name);
  if (input.scopes !== undefined) settings.scopes = validateScopes(input.scopes ?? defaultKeyScopes);
  if (input.allowedModels !== undefined) settings.allowedModels = validateModels(input.allowedModels);
  if (input.ipAllowlist !== undefined) {
    settings.ipAllowlist = input.ipAllowlist === null ? null : normalizeIpAllowlist(input.ipAllowlist);
  }
  if (input.expiresAt !== undefined)
    settings.expiresAt = validateExpiry(input.expiresAt, options.allowPastExpiry ? -Infinity : now);
  if (input.rpmLimit !== undefined)
    settings.rpmLimit = validateLimit(input.rpmLimit, 'rpm_limit', 1, maxPerMinuteLimit);
  if (input.tpmLimit !== undefined)
    settings.tpmLimit = validateLimit(input.tpmLimit, 'tpm_limit', 1, maxPerMinuteLimit);
  if (input.concurrencyLimit !== undefined) {
    settings.concurrencyLimit = validateLimit(input.concurrencyLimit, 'concurrency_limit', 1, maxKeyConcurrencyLimit);
  }
  if (input.budgetPeriod !== undefined) settings.budgetPeriod = validateBudgetPeriod(input.budgetPeriod);
  if (input.budgetMicros !== undefined) {
    settings.budgetMicros = validateLimit(input.budgetMicros, 'budget_micros', 0, Number.MAX_SAFE_INTEGER);
  }
  return settings;
}

function validateBudgetPeriod(period: string): KeyBudgetPeriod {
  const match = keyBudgetPeriods.find((candidate) => candidate === period);
  if (match === undefined) {
    throw new AppError('invalid_request', `budget_period must be one of ${keyBudgetPeriods.join(', ')}`, {
      param: 'budget_period',
    });
  }
  return match;
}

function validateName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > maxKeyNameLength) {
    throw new AppError('invalid_request', `name must be 1 to ${maxKeyNameLength} characters`, { param: 'name' });
  }
  return trimmed;
}

function validateScopes(scopes: readonly string[]): KeyScope[] {
  if (scopes.length === 0) {
    throw new AppError('invalid_request', `scopes must name at least one of ${keyScopes.join(', ')}`, {
      param: 'scopes',
    });
  }
  scopes.forEach((scope, index) => {
    if (!isKeyScope(scope)) {
      throw new AppError('invalid_request', `scopes[${index}]: unknown scope "${scope}"; use ${keyScopes.join(', ')}`, {
        param: `scopes[${index}]`,
      });
    }
  });
  // Stored in the closed list's order, so equal sets compare and display equally.
  return keyScopes.filter((scope) => scopes.includes(scope));
}

export function isKeyScope(value: string): value is KeyScope {
  return (keyScopes as readonly string[]).includes(value);
}

function validateModels(models: readonly string[] | null): string[] | null {
  if (models === null) return null;
  if (models.length === 0) {
    throw new AppError('invalid_request', 'allowed_models must not be empty; use null to allow every model', {
      param: 'allowed_models',
    });
  }
  if (models.length > maxAllowedModels) {
    throw new AppError('invalid_request', `allowed_models takes at most ${maxAllowedModels} entries`, {
      param: 'allowed_models',
    });
  }
  const names = models.map((model, index) => {
    const trimmed = model.trim();
    if (trimmed.length === 0 || trimmed.length > 200) {
      throw new AppError('invalid_request', `allowed_models[${index}] must be a model name of 1 to 200 characters`, {
        param: `allowed_models[${index}]`,
      });
    }
    return trimmed;
  });
  return [...new Set(names)];
}

function validateExpiry(expiresAt: number | null, notBefore: number): number | null {
  if (expiresAt === null) return null;
  if (!Number.isSafeInteger(expiresAt)) {
    throw new AppError('invalid_request', 'expires_at is not a valid time', { param: 'expires_at' });
  }
  if (expiresAt <= notBefore) {
    throw new AppError('invalid_request', 'expires_at must be in the future', { param: 'expires_at' });
  }
  return expiresAt;
}

function validateLimit(value: number | null, param: string, minimum: number, maximum: number): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new AppError('invalid_request', `${param} must be an integer from ${minimum} to ${maximum}`, { param });
  }
  return value;
}
