import { BlockList } from 'node:net';
import { AppError } from '../../errors/app-error.ts';
import { parseIpAllowlistEntry } from './ip-allowlist.ts';
import { defaultKeyScopes, type KeySettings } from './key-settings.ts';

/** The rights a key carries, as far as another key could inherit them. */
export type KeyBounds = Omit<KeySettings, 'name'> & { readonly teamId: string | null };

/**
 * A key that calls the management API may hand out only what it has: a key it creates, and every field it changes
 * on a key (its own included), must lie within it. "Within" means: scopes ⊆, models ⊆ (null, every model, is the
 * widest), IP allowlist ⊆ by CIDR containment (null, anywhere, is the widest), rpm/tpm limits and budget ≤ (null,
 * unlimited, is the widest), expiry no later (null, never, is the latest), and the same team when the acting key
 * belongs to one. Each refusal is a 403 naming the field.
 */
export function assertWithinAuthority(authority: KeyBounds, requested: Partial<KeyBounds>): void {
  if (requested.scopes !== undefined) {
    const extra = requested.scopes.filter((scope) => !authority.scopes.includes(scope));
    if (extra.length > 0) refuse('scopes', `the scopes ${extra.join(', ')}`);
  }
  if (requested.allowedModels !== undefined && authority.allowedModels !== null) {
    if (requested.allowedModels === null) refuse('allowed_models', 'every model');
    const extra = requested.allowedModels.filter((model) => !authority.allowedModels?.includes(model));
    if (extra.length > 0) refuse('allowed_models', `the models ${extra.join(', ')}`);
  }
  if (requested.ipAllowlist !== undefined && authority.ipAllowlist !== null) {
    if (requested.ipAllowlist === null) refuse('ip_allowlist', 'every address');
    const outside = requested.ipAllowlist.filter((entry) => !allowlistContains(authority.ipAllowlist ?? [], entry));
    if (outside.length > 0) refuse('ip_allowlist', `the addresses ${outside.join(', ')}`);
  }
  for (const [field, param] of [
    ['rpmLimit', 'rpm_limit'],
    ['tpmLimit', 'tpm_limit'],
    ['concurrencyLimit', 'concurrency_limit'],
    ['budgetMicros', 'budget_micros'],
    ['expiresAt', 'expires_at'],
  ] as const) {
    const bound = authority[field];
    const value = requested[field];
    if (value === undefined || bound === null) continue;
    if (value === null) refuse(param, field === 'expiresAt' ? 'a key that never expires' : 'no limit');
    if (value > bound) refuse(param, `more than its own ${param} (${bound})`);
  }
  if (requested.teamId !== undefined && authority.teamId !== null && requested.teamId !== authority.teamId) {
    refuse('team_id', 'a key outside its own team');
  }
}

/**
 * The settings of a key created by another key: fields the caller left out take the acting key's bounds instead of
 * the unrestricted defaults, so a restricted key cannot mint an unrestricted one by omission. Default scopes are cut
 * to the acting key's.
 */
export function inheritAuthority(authority: KeyBounds, requested: Partial<KeyBounds>): Partial<KeyBounds> {
  const inherited: Partial<KeyBounds> = { ...requested };
  if (inherited.scopes === undefined) {
    const scopes = defaultKeyScopes.filter((scope) => authority.scopes.includes(scope));
    inherited.scopes = scopes.length > 0 ? scopes : authority.scopes;
  }
  // Only absent fields inherit: an explicit null (unrestricted) stays, and is refused by assertWithinAuthority.
  if (inherited.allowedModels === undefined) inherited.allowedModels = authority.allowedModels;
  if (inherited.ipAllowlist === undefined) inherited.ipAllowlist = authority.ipAllowlist;
  if (inherited.rpmLimit === undefined) inherited.rpmLimit = authority.rpmLimit;
  if (inherited.tpmLimit === undefined) inherited.tpmLimit = authority.tpmLimit;
  if (inherited.concurrencyLimit === undefined) inherited.concurrencyLimit = authority.concurrencyLimit;
  if (inherited.budgetMicros === undefined) {
    // The period is free to choose, but an inherited budget keeps the period it was set for.
    inherited.budgetMicros = authority.budgetMicros;
    if (inherited.budgetPeriod === undefined) inherited.budgetPeriod = authority.budgetPeriod;
  }
  if (inherited.expiresAt === undefined) inherited.expiresAt = authority.expiresAt;
  return inherited;
}

function allowlistContains(outerEntries: readonly string[], innerText: string): boolean {
  const inner = parseIpAllowlistEntry(innerText);
  return outerEntries.some((outerText) => {
    const outer = parseIpAllowlistEntry(outerText);
    if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
    // The inner entry is stored as its network address, so the whole range lies in `outer` exactly when that
    // address does (its prefix being at least as long).
    const range = new BlockList();
    range.addSubnet(outer.address, outer.prefix, outer.family);
    return range.check(inner.address, inner.family);
  });
}

function refuse(param: string, what: string): never {
  throw new AppError(
    'forbidden',
    `${param}: the API key making this call cannot grant ${what}, beyond its own rights`,
    {
      param,
    },
  );
}
