export { UserRepository } from './user-repository.ts';
export type { UserOrganization, UserRow } from './user-repository.ts';
