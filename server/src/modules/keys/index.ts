export { KeyRepository } from './key-repository.ts';
export { KeyService, hashKeySecret, keyPrefix } from './key-service.ts';
export type { KeyPrincipal, KeyLookup, KeySummary, CreateKeyInput } from './key-service.ts';
