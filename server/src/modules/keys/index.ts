export { KeyRepository, keySortFields } from './key-repository.ts';
export type { KeyListFilters, KeyListWindow, KeyOwnerFilter, KeySortField, KeyStatus } from './key-repository.ts';
export {
  KeyService,
  hashKeySecret,
  keyPrefix,
  keyScopes,
  defaultKeyScopes,
  defaultRotationGraceSeconds,
  maxRotationGraceSeconds,
} from './key-service.ts';
export type {
  KeyPrincipal,
  KeyTrafficLimits,
  KeyLookup,
  KeySummary,
  CreateKeyInput,
  CreateOrgKeyInput,
  CreatedKey,
  KeyScope,
  KeyAccessRules,
  KeyAction,
  KeyServiceOptions,
  KeyTarget,
} from './key-service.ts';
export { assertWithinAuthority, inheritAuthority } from './key-authority.ts';
export type { KeyBounds } from './key-authority.ts';
export type { KeySettingsInput, KeyBudgetPeriod } from './key-settings.ts';
export {
  isKeyScope,
  keyBudgetPeriods,
  maxKeyConcurrencyLimit,
  maxKeyNameLength,
  maxAllowedModels,
} from './key-settings.ts';
export { normalizeIpAllowlist, parseIpAllowlistEntry, maxIpAllowlistEntries } from './ip-allowlist.ts';
export type { IpAllowlistEntry } from './ip-allowlist.ts';
