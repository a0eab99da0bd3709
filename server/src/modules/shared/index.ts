// Types and helpers every module may use; this module imports no other module, so it can never close a cycle.
export type { Actor, OrgScope, PlatformScope } from './actor.ts';
export { checkCursorType, containsCondition, keysetCondition, pageQuery, parseSort } from './list-query.ts';
export type { ListAfter, ListSort, ListWindow } from './list-query.ts';
export { CacheEpochRepository } from './cache-epoch-repository.ts';
