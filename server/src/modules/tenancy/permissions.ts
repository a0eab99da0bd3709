import type { OrgRole, TeamRole } from '../../db/schema.ts';

/**
 * The permission matrix: every management action, which organization roles may perform it, and which team roles
 * may perform it on their own team. Platform admins may do everything. This is the only place roles are mapped to
 * rights; `authorize` in authorizer.ts is the only place they are checked. docs/permissions.md is generated from it.
 */
export const orgRoles = ['owner', 'admin', 'billing', 'member', 'viewer'] as const satisfies readonly OrgRole[];
export const teamRoles = ['admin', 'member'] as const satisfies readonly TeamRole[];

const everyone: readonly OrgRole[] = orgRoles;
const managers: readonly OrgRole[] = ['owner', 'admin'];
/** Roles that may see, revoke and keep keys, and those that may also make and change them. */
const keyHolders: readonly OrgRole[] = ['owner', 'admin', 'billing', 'member'];
const keyMakers: readonly OrgRole[] = ['owner', 'admin', 'member'];

export interface Permission {
  readonly description: string;
  readonly orgRoles: readonly OrgRole[];
  /** Team roles that grant the action on that team (only for team-scoped actions). */
  readonly teamRoles?: readonly TeamRole[];
}

export const permissions = {
  'org.read': { description: 'See the organization and its settings', orgRoles: everyone },
  'org.update': { description: 'Rename the organization, change enterprise settings', orgRoles: managers },
  'org.delete': { description: 'Delete the organization (soft delete with retention)', orgRoles: ['owner'] },
  'org.transfer': { description: 'Transfer ownership to another member', orgRoles: ['owner'] },
  'org.leave': { description: 'Leave the organization (the owner transfers ownership first)', orgRoles: everyone },
  'members.read': { description: 'List members and their roles', orgRoles: everyone },
  'members.invite': { description: 'Invite people, list and revoke invitations', orgRoles: managers },
  'members.update': { description: "Change a member's role (never to or from owner)", orgRoles: managers },
  'members.remove': { description: 'Remove a member', orgRoles: managers },
  'teams.read': { description: 'List teams and their members', orgRoles: everyone },
  'teams.create': { description: 'Create teams', orgRoles: managers },
  'teams.update': { description: 'Rename a team', orgRoles: managers, teamRoles: ['admin'] },
  'teams.delete': { description: 'Delete a team', orgRoles: managers },
  'teams.members.manage': {
    description: 'Add, remove and change members of a team',
    orgRoles: managers,
    teamRoles: ['admin'],
  },
  'keys.hold': {
    description: 'Hold working keys (a member moved to a role without it has their keys revoked at once)',
    orgRoles: keyHolders,
  },
  'keys.read.own': { description: 'List and see your own keys', orgRoles: keyHolders },
  'keys.read.all': { description: 'List and see every key of the organization', orgRoles: managers },
  'keys.create': {
    description: 'Create keys for yourself (team keys need team admin on that team)',
    orgRoles: keyMakers,
    teamRoles: ['admin'],
  },
  'keys.update.own': {
    description: 'Change your own keys (team keys need team admin on that team)',
    orgRoles: keyMakers,
    teamRoles: ['admin'],
  },
  'keys.rotate.own': {
    description: 'Rotate your own keys (team keys need team admin on that team)',
    orgRoles: keyMakers,
    teamRoles: ['admin'],
  },
  'keys.revoke.own': { description: 'Revoke your own keys (revoking never grants anything)', orgRoles: keyHolders },
  'keys.manage.all': {
    description: 'Create keys for other members; update, rotate and revoke any key of the organization',
    orgRoles: managers,
  },
  'settings.read': { description: 'Read enterprise settings', orgRoles: everyone },
  'settings.update': { description: 'Change enterprise settings and SSO', orgRoles: managers },
  'registry.read': { description: "See the organization's own providers and models", orgRoles: everyone },
  'registry.manage': {
    description: "Add, change and remove the organization's own providers, their keys, and models",
    orgRoles: managers,
  },
  'traffic.read': {
    description: 'See rate limits and budgets of the organization, its teams and your own, and their alerts',
    orgRoles: everyone,
  },
  'traffic.read.all': {
    description: "See other members' rate limits, budgets and budget alerts",
    orgRoles: ['owner', 'admin', 'billing'],
  },
  'limits.manage': { description: 'Add, change and remove rate and concurrency limits', orgRoles: managers },
  'budgets.manage': { description: 'Add, change and remove budgets', orgRoles: ['owner', 'admin', 'billing'] },
  'audit.read': { description: 'Read the audit log', orgRoles: managers },
  'billing.read': { description: 'See usage, costs and invoices', orgRoles: ['owner', 'admin', 'billing'] },
} as const satisfies Record<string, Permission>;

export type Action = keyof typeof permissions;

export function orgRoleAllows(action: Action, role: OrgRole): boolean {
  return (permissions[action].orgRoles as readonly OrgRole[]).includes(role);
}

export function teamRoleAllows(action: Action, role: TeamRole): boolean {
  const allowed = (permissions[action] as Permission).teamRoles;
  return allowed !== undefined && allowed.includes(role);
}

/**
 * Rank used to stop escalation (enforced by `Authorizer.authorizeRoleChange`): nobody grants a role ranked above
 * their own, nobody changes or removes a member ranked at or above their own, and `owner` is never granted or taken
 * away by a role change — ownership moves only by transfer. Platform admins rank as owners.
 */
export const orgRoleRank: Readonly<Record<OrgRole, number>> = { owner: 4, admin: 3, billing: 2, member: 2, viewer: 1 };
