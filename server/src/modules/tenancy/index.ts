export { Authorizer } from './authorizer.ts';
export type { Actor, OrgScope, AuthorizeOptions } from './authorizer.ts';
export { permissions, orgRoles, teamRoles, orgRoleRank, orgRoleAllows, teamRoleAllows } from './permissions.ts';
export type { Action, Permission } from './permissions.ts';
