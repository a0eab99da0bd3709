import type { ApiRoutes } from '../api-context.ts';
import { registerAuditEventRoutes } from './audit-events-routes.ts';
import { registerInvitationRoutes } from './invitations-routes.ts';
import { registerMemberRoutes } from './members-routes.ts';
import { registerOrganizationRoutes } from './organizations-routes.ts';
import { registerSettingsRoutes } from './settings-routes.ts';
import { registerTeamRoutes } from './teams-routes.ts';

/** Organizations → teams → members, invitations, enterprise settings and the audit log, under /api/v1. */
export const tenancyRoutes: readonly ApiRoutes[] = [
  registerOrganizationRoutes,
  registerSettingsRoutes,
  registerMemberRoutes,
  registerInvitationRoutes,
  registerTeamRoutes,
  registerAuditEventRoutes,
];
