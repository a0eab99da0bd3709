export { UsageRepository } from './usage-repository.ts';
