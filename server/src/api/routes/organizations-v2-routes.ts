import Type from 'typebox';
import { OrganizationService, type OrganizationOverview } from '../../modules/tenancy/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { presentSettings, SettingsSchema } from './settings-routes.ts';
import { OrgParamsSchema, OrgRoleSchema, problemResponses, type OrgParams } from './tenancy-schemas.ts';

/**
 * The v2 shape of an organization: what a console page needs in one call (settings and counts nested) and times as
 * ISO 8601 strings. It replaces `GET /api/v1/organizations/{org_id}`, which keeps its v1 shape until its sunset.
 */
const OrganizationV2Schema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Union([OrgRoleSchema, Type.Null()], {
    description: "The caller's role; null for a platform admin who is not a member",
  }),
  settings: SettingsSchema,
  counts: Type.Object({ members: Type.Integer(), teams: Type.Integer() }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

function presentOrganizationV2(overview: OrganizationOverview): Type.Static<typeof OrganizationV2Schema> {
  const { organization, settings, counts } = overview;
  return {
    id: organization.id,
    name: organization.name,
    role: organization.role,
    settings: presentSettings(settings),
    counts: { members: counts.members, teams: counts.teams },
    created_at: new Date(organization.created_at).toISOString(),
    updated_at: new Date(organization.updated_at).toISOString(),
  };
}

export const registerOrganizationV2Routes: ApiRoutes = (api, context) => {
  const organizations = new OrganizationService(context.db, context.authorizer, context.keys);

  api.get<{ Params: OrgParams }>(
    '/organizations/:org_id',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Read an organization with its settings and counts (v2)',
        params: OrgParamsSchema,
        response: { 200: OrganizationV2Schema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.read');
      return presentOrganizationV2(await organizations.overview(scope));
    },
  );
};

/** Every route group of /api/v2, registered like /api/v1's `managementRoutes` but under the /api/v2 prefix. */
export const managementRoutesV2: readonly ApiRoutes[] = [registerOrganizationV2Routes];
