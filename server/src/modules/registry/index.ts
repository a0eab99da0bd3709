export { RegistryService, credentialContext, unpricedWarning, warningsOf } from './registry-service.ts';
export type {
  CredentialInput,
  CredentialPatch,
  CredentialView,
  ModelPatch,
  ModelView,
  OrgRoutingPolicy,
  ProviderInput,
  ProviderPatch,
  ProviderView,
  RegistryServiceOptions,
  RegistrySnapshot,
} from './registry-service.ts';
export type { ProviderEntry } from './registry-entries.ts';
export { registryEpochName } from './registry-repository.ts';
export type { RegistryOwner } from './registry-repository.ts';
