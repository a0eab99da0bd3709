export { ProviderRepository } from './provider-repository.ts';
export { ProviderService } from './provider-service.ts';
export type { StoredProviderInput, StoredProviderSummary } from './provider-service.ts';
