import Type from 'typebox';
import {
  InvitationService,
  invitationSortFields,
  invitationStatus,
  invitationStatuses,
  maxInvitationDays,
  type InvitationRow,
} from '../../modules/tenancy/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import {
  listQueryFields,
  NoContentSchema,
  OrgParamsSchema,
  OrgRoleSchema,
  pageOf,
  problemResponses,
  readListWindow,
  sortQueryField,
  type OrgParams,
} from './tenancy-schemas.ts';

const InvitationStatusSchema = Type.Enum([...invitationStatuses]);

const InvitationSchema = Type.Object({
  id: Type.String(),
  org_id: Type.String(),
  email: Type.String(),
  role: OrgRoleSchema,
  team_id: Type.Union([Type.String(), Type.Null()]),
  status: InvitationStatusSchema,
  invited_by: Type.String(),
  expires_at: Type.Integer({ description: 'Epoch milliseconds' }),
  created_at: Type.Integer(),
  accepted_at: Type.Union([Type.Integer(), Type.Null()]),
  declined_at: Type.Union([Type.Integer(), Type.Null()]),
  revoked_at: Type.Union([Type.Integer(), Type.Null()]),
});
type InvitationBody = Type.Static<typeof InvitationSchema>;

const CreatedInvitationSchema = Type.Object({
  ...InvitationSchema.properties,
  token: Type.String({ description: 'Shown once; only its hash is stored' }),
  accept_url: Type.String({ description: 'The link to send to the invitee' }),
});

const PublicInvitationSchema = Type.Object({
  organization: Type.Object({ name: Type.String() }),
  team: Type.Union([Type.Object({ name: Type.String() }), Type.Null()]),
  email: Type.String(),
  role: OrgRoleSchema,
  status: InvitationStatusSchema,
  expires_at: Type.Integer({ description: 'Epoch milliseconds' }),
});

const AcceptedSchema = Type.Object({
  organization: Type.Object({ id: Type.String(), name: Type.String() }),
  role: OrgRoleSchema,
  team_id: Type.Union([Type.String(), Type.Null()]),
});

const InvitationCreateSchema = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    role: OrgRoleSchema,
    team_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
    expires_in_days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: maxInvitationDays, description: 'Default 7 days' }),
    ),
  },
  { additionalProperties: false },
);
type InvitationCreate = Type.Static<typeof InvitationCreateSchema>;

const InvitationListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(invitationSortFields, '-created_at'),
  status: Type.Optional(InvitationStatusSchema),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Email contains' })),
});
type InvitationListQuery = Type.Static<typeof InvitationListQuerySchema>;

const InvitationParamsSchema = Type.Object({
  ...OrgParamsSchema.properties,
  invitation_id: Type.String({ maxLength: 128 }),
});
type InvitationParams = Type.Static<typeof InvitationParamsSchema>;

const TokenParamsSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 128 }) });
type TokenParams = Type.Static<typeof TokenParamsSchema>;

function presentInvitation(invitation: InvitationRow): InvitationBody {
  return {
    id: invitation.id,
    org_id: invitation.org_id,
    email: invitation.email,
    role: invitation.role,
    team_id: invitation.team_id,
    status: invitationStatus(invitation, Date.now()),
    invited_by: invitation.invited_by,
    expires_at: invitation.expires_at,
    created_at: invitation.created_at,
    accepted_at: invitation.accepted_at,
    declined_at: invitation.declined_at,
    revoked_at: invitation.revoked_at,
  };
}

/**
 * Invitations by link. Managers create, list and revoke them; the invitee looks one up without signing in (no
 * secrets are shown), then accepts or declines signed in with the invited address. Answered, revoked or expired
 * invitations are 410.
 */
export const registerInvitationRoutes: ApiRoutes = (api, context) => {
  const invitations = new InvitationService(context.db, context.authorizer);
  const acceptUrl = (token: string) =>
    `${context.config.identity.publicUrl}/accept-invitation?token=${encodeURIComponent(token)}`;
  const tags = ['invitations'];

  api.post<{ Params: OrgParams; Body: InvitationCreate }>(
    '/organizations/:org_id/invitations',
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: 'Invite someone by email; returns a one-time link',
        params: OrgParamsSchema,
        body: InvitationCreateSchema,
        response: { 201: CreatedInvitationSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.invite');
      const { invitation, token } = await invitations.create(scope, {
        email: request.body.email,
        role: request.body.role,
        teamId: request.body.team_id,
        expiresInDays: request.body.expires_in_days,
      });
      return reply.code(201).send({ ...presentInvitation(invitation), token, accept_url: acceptUrl(token) });
    },
  );

  api.get<{ Params: OrgParams; Querystring: InvitationListQuery }>(
    '/organizations/:org_id/invitations',
    {
      schema: {
        tags,
        summary: 'List invitations',
        params: OrgParamsSchema,
        querystring: InvitationListQuerySchema,
        response: { 200: pageOf(InvitationSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.invite');
      const { page, window } = readListWindow(request.query, invitationSortFields, {
        field: 'created_at',
        direction: 'desc',
      });
      const rows = await invitations.list(scope, { status: request.query.status, q: request.query.q }, window);
      return toPage(rows, page, (row) => [row[window.sort.field], row.id], presentInvitation);
    },
  );

  api.delete<{ Params: InvitationParams }>(
    '/organizations/:org_id/invitations/:invitation_id',
    {
      schema: {
        tags,
        summary: 'Revoke a pending invitation',
        params: InvitationParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.invite');
      await invitations.revoke(scope, request.params.invitation_id);
      return reply.code(204).send();
    },
  );

  api.get<{ Params: TokenParams }>(
    '/invitations/:token',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'What an invitation link stands for (no sign-in needed)',
        security: [],
        params: TokenParamsSchema,
        response: { 200: PublicInvitationSchema, ...problemResponses },
      },
    },
    async (request) => {
      const { invitation, status } = await invitations.lookup(request.params.token);
      return {
        organization: { name: invitation.org_name },
        team: invitation.team_name === null ? null : { name: invitation.team_name },
        email: invitation.email,
        role: invitation.role,
        status,
        expires_at: invitation.expires_at,
      };
    },
  );

  api.post<{ Params: TokenParams }>(
    '/invitations/:token/accept',
    {
      schema: {
        tags,
        summary: 'Accept an invitation sent to your email address',
        params: TokenParamsSchema,
        response: { 200: AcceptedSchema, ...problemResponses },
      },
    },
    async (request) => {
      const accepted = await invitations.accept(request.actor, request.params.token);
      return {
        organization: { id: accepted.orgId, name: accepted.orgName },
        role: accepted.role,
        team_id: accepted.teamId,
      };
    },
  );

  api.post<{ Params: TokenParams }>(
    '/invitations/:token/decline',
    {
      schema: {
        tags,
        summary: 'Decline an invitation sent to your email address',
        params: TokenParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      await invitations.decline(request.actor, request.params.token);
      return reply.code(204).send();
    },
  );
};
