export { Authorizer } from './authorizer.ts';
export type {
  Actor,
  OrgScope,
  PlatformScope,
  AuthorizeOptions,
  OrgRoleChange,
  TeamRoleChange,
  InvitationGrant,
} from './authorizer.ts';
export { permissions, orgRoles, teamRoles } from './permissions.ts';
export type { Action, Permission } from './permissions.ts';
export { renderPermissionsTable } from './permissions-table.ts';
export { ssoDefaultRoles, maxDataRetentionDays, parseOrgSettings } from './org-settings.ts';
export type { OrgSettings, SsoDefaultRole } from './org-settings.ts';
export { OrganizationService, deletedOrganizationRetentionDays } from './organization-service.ts';
export type { OrganizationOverview, OwnershipTransfer } from './organization-service.ts';
export { organizationSortFields } from './organization-repository.ts';
export type { VisibleOrganization, OrganizationSortField } from './organization-repository.ts';
export { SettingsService, readSsoSettings } from './settings-service.ts';
export type { SettingsPatch, OrgSsoSettings, SettingsRegistryPort } from './settings-service.ts';
export { MemberService } from './member-service.ts';
export { memberSortFields } from './member-repository.ts';
export type { MemberRow, MemberSortField } from './member-repository.ts';
export { TeamService } from './team-service.ts';
export { teamSortFields, teamMemberSortFields } from './team-repository.ts';
export type { TeamRow, TeamMemberRow, TeamSortField, TeamMemberSortField } from './team-repository.ts';
export { InvitationService, maxInvitationDays } from './invitation-service.ts';
export type { CreatedInvitation, InvitationLookup, AcceptedInvitation, InvitationInput } from './invitation-service.ts';
export { invitationStatuses, invitationStatus, invitationSortFields } from './invitation-repository.ts';
export type { InvitationRow, InvitationStatus, InvitationSortField } from './invitation-repository.ts';
export { OrganizationPurge, type PurgedOrganization } from './organization-purge.ts';
export { bootstrapAdmin, createOrganizationAsOperator } from './bootstrap-admin.ts';
export type { BootstrapResult } from './bootstrap-admin.ts';
