export { IdempotencyRepository } from './idempotency-repository.ts';
export type { ClaimResult, IdempotencyClaim, IdempotencyRecord } from './idempotency-repository.ts';
