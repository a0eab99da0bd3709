export { UserRepository } from './user-repository.ts';
export type { UserOrganization, UserRow } from './user-repository.ts';
export { bootstrapAdmin } from './bootstrap-admin.ts';
export type { BootstrapResult } from './bootstrap-admin.ts';
