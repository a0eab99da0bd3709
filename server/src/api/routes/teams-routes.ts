import Type from 'typebox';
import {
  TeamService,
  teamMemberSortFields,
  teamSortFields,
  type TeamMemberRow,
  type TeamRow,
} from '../../modules/tenancy/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import {
  listQueryFields,
  NameSchema,
  NoContentSchema,
  OrgParamsSchema,
  pageOf,
  problemResponses,
  readListWindow,
  sortQueryField,
  TeamRoleSchema,
  type OrgParams,
} from './tenancy-schemas.ts';

const TeamSchema = Type.Object({
  id: Type.String(),
  org_id: Type.String(),
  name: Type.String(),
  created_at: Type.Integer({ description: 'Epoch milliseconds' }),
  updated_at: Type.Integer({ description: 'Epoch milliseconds' }),
});

const TeamMemberSchema = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: TeamRoleSchema,
  created_at: Type.Integer({ description: 'When they joined the team (epoch milliseconds)' }),
});

function presentTeam(team: TeamRow): Type.Static<typeof TeamSchema> {
  return {
    id: team.id,
    org_id: team.org_id,
    name: team.name,
    created_at: team.created_at,
    updated_at: team.updated_at,
  };
}

function presentTeamMember(member: TeamMemberRow): Type.Static<typeof TeamMemberSchema> {
  return {
    user_id: member.user_id,
    email: member.email,
    name: member.name,
    role: member.role,
    created_at: member.created_at,
  };
}

const TeamParamsSchema = Type.Object({ ...OrgParamsSchema.properties, team_id: Type.String({ maxLength: 128 }) });
type TeamParams = Type.Static<typeof TeamParamsSchema>;
const TeamMemberParamsSchema = Type.Object({
  ...TeamParamsSchema.properties,
  user_id: Type.String({ maxLength: 128 }),
});
type TeamMemberParams = Type.Static<typeof TeamMemberParamsSchema>;

const TeamWriteSchema = Type.Object({ name: NameSchema }, { additionalProperties: false });
type TeamWrite = Type.Static<typeof TeamWriteSchema>;

const TeamListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(teamSortFields, 'name'),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Name contains (case-insensitive)' })),
});
type TeamListQuery = Type.Static<typeof TeamListQuerySchema>;

const TeamMemberListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(teamMemberSortFields, 'created_at'),
  role: Type.Optional(TeamRoleSchema),
});
type TeamMemberListQuery = Type.Static<typeof TeamMemberListQuerySchema>;

const TeamMemberAddSchema = Type.Object(
  { user_id: Type.String({ minLength: 1, maxLength: 128 }), role: Type.Optional(TeamRoleSchema) },
  { additionalProperties: false },
);
type TeamMemberAdd = Type.Static<typeof TeamMemberAddSchema>;

const TeamMemberUpdateSchema = Type.Object({ role: TeamRoleSchema }, { additionalProperties: false });
type TeamMemberUpdate = Type.Static<typeof TeamMemberUpdateSchema>;

/** Teams and team members. Team admins manage their own team's members and name; org managers manage all. */
export const registerTeamRoutes: ApiRoutes = (api, context) => {
  const teams = new TeamService(context.db, context.authorizer, context.keys);
  const tags = ['teams'];

  api.post<{ Params: OrgParams; Body: TeamWrite }>(
    '/organizations/:org_id/teams',
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: 'Create a team',
        params: OrgParamsSchema,
        body: TeamWriteSchema,
        response: { 201: TeamSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'teams.create');
      return reply.code(201).send(presentTeam(await teams.create(scope, request.body.name.trim())));
    },
  );

  api.get<{ Params: OrgParams; Querystring: TeamListQuery }>(
    '/organizations/:org_id/teams',
    {
      schema: {
        tags,
        summary: 'List the teams of an organization',
        params: OrgParamsSchema,
        querystring: TeamListQuerySchema,
        response: { 200: pageOf(TeamSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'teams.read');
      const { page, window } = readListWindow(request.query, teamSortFields, { field: 'name', direction: 'asc' });
      const rows = await teams.list(scope, { q: request.query.q }, window);
      return toPage(rows, page, (row) => [row[window.sort.field], row.id], presentTeam);
    },
  );

  api.get<{ Params: TeamParams }>(
    '/organizations/:org_id/teams/:team_id',
    {
      schema: {
        tags,
        summary: 'Read a team',
        params: TeamParamsSchema,
        response: { 200: TeamSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'teams.read');
      return presentTeam(await teams.get(scope, request.params.team_id));
    },
  );

  api.patch<{ Params: TeamParams; Body: TeamWrite }>(
    '/organizations/:org_id/teams/:team_id',
    {
      schema: {
        tags,
        summary: 'Rename a team',
        params: TeamParamsSchema,
        body: TeamWriteSchema,
        response: { 200: TeamSchema, ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId, team_id: teamId } = request.params;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'teams.update', { teamId });
      return presentTeam(await teams.rename(scope, teamId, request.body.name.trim()));
    },
  );

  api.delete<{ Params: TeamParams }>(
    '/organizations/:org_id/teams/:team_id',
    {
      schema: {
        tags,
        summary: 'Delete a team (its members stay in the organization)',
        params: TeamParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'teams.delete');
      await teams.delete(scope, request.params.team_id);
      return reply.code(204).send();
    },
  );

  api.get<{ Params: TeamParams; Querystring: TeamMemberListQuery }>(
    '/organizations/:org_id/teams/:team_id/members',
    {
      schema: {
        tags,
        summary: 'List the members of a team',
        params: TeamParamsSchema,
        querystring: TeamMemberListQuerySchema,
        response: { 200: pageOf(TeamMemberSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'teams.read');
      const { page, window } = readListWindow(request.query, teamMemberSortFields, {
        field: 'created_at',
        direction: 'asc',
      });
      const rows = await teams.listMembers(scope, request.params.team_id, { role: request.query.role }, window);
      return toPage(rows, page, (row) => [row[window.sort.field], row.user_id], presentTeamMember);
    },
  );

  api.post<{ Params: TeamParams; Body: TeamMemberAdd }>(
    '/organizations/:org_id/teams/:team_id/members',
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: 'Add an organization member to a team',
        params: TeamParamsSchema,
        body: TeamMemberAddSchema,
        response: { 201: TeamMemberSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { org_id: orgId, team_id: teamId } = request.params;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'teams.members.manage', { teamId });
      const member = await teams.addMember(scope, teamId, request.body.user_id, request.body.role ?? 'member');
      return reply.code(201).send(presentTeamMember(member));
    },
  );

  api.patch<{ Params: TeamMemberParams; Body: TeamMemberUpdate }>(
    '/organizations/:org_id/teams/:team_id/members/:user_id',
    {
      schema: {
        tags,
        summary: "Change a team member's role",
        params: TeamMemberParamsSchema,
        body: TeamMemberUpdateSchema,
        response: { 200: TeamMemberSchema, ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId, team_id: teamId, user_id: userId } = request.params;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'teams.members.manage', { teamId });
      return presentTeamMember(await teams.changeMemberRole(scope, teamId, userId, request.body.role));
    },
  );

  api.delete<{ Params: TeamMemberParams }>(
    '/organizations/:org_id/teams/:team_id/members/:user_id',
    {
      schema: {
        tags,
        summary: 'Remove someone from a team',
        params: TeamMemberParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { org_id: orgId, team_id: teamId, user_id: userId } = request.params;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'teams.members.manage', { teamId });
      await teams.removeMember(scope, teamId, userId);
      return reply.code(204).send();
    },
  );
};
