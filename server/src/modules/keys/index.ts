export { KeyRepository } from './key-repository.ts';
export { KeyService, hashKeySecret, keyPrefix, keyScopes, defaultKeyScopes } from './key-service.ts';
export type { KeyPrincipal, KeyLookup, KeySummary, CreateKeyInput, KeyScope } from './key-service.ts';
