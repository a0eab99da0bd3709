import Type from 'typebox';
import {
  deletedOrganizationRetentionDays,
  OrganizationService,
  organizationSortFields,
  type VisibleOrganization,
} from '../../modules/tenancy/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import { MemberSchema, presentMember } from './members-routes.ts';
import {
  listQueryFields,
  NameSchema,
  NoContentSchema,
  OrgParamsSchema,
  OrgRoleSchema,
  pageOf,
  problemResponses,
  readListWindow,
  sortQueryField,
  type OrgParams,
} from './tenancy-schemas.ts';

/** The v1 shape of an organization. Kept as is; v2 (organizations-v2-routes.ts) nests settings and counts. */
const OrganizationSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Union([OrgRoleSchema, Type.Null()], {
    description: "The caller's role; null for a platform admin who is not a member",
  }),
  created_at: Type.Integer({ description: 'Epoch milliseconds' }),
  updated_at: Type.Integer({ description: 'Epoch milliseconds' }),
});
type OrganizationBody = Type.Static<typeof OrganizationSchema>;

function presentOrganization(organization: VisibleOrganization): OrganizationBody {
  return {
    id: organization.id,
    name: organization.name,
    role: organization.role,
    created_at: organization.created_at,
    updated_at: organization.updated_at,
  };
}

const OrganizationCreateSchema = Type.Object({ name: NameSchema }, { additionalProperties: false });
type OrganizationCreate = Type.Static<typeof OrganizationCreateSchema>;

const OrganizationListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(organizationSortFields, 'name'),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Name contains (case-insensitive)' })),
  all: Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false')], {
      description: 'Platform admins: every organization, not only their own',
    }),
  ),
});
type OrganizationListQuery = Type.Static<typeof OrganizationListQuerySchema>;

const TransferSchema = Type.Object(
  { user_id: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
type Transfer = Type.Static<typeof TransferSchema>;

const TransferResultSchema = Type.Object({ owner: MemberSchema, previous_owners: Type.Array(MemberSchema) });

/**
 * Organizations. `GET /organizations/{org_id}` is the versioning example: its v1 shape stays, it is marked
 * deprecated, and its successor is `/api/v2/organizations/{org_id}` (docs/api-versioning.md).
 */
export const registerOrganizationRoutes: ApiRoutes = (api, context) => {
  const organizations = new OrganizationService(context.db, context.authorizer, context.keys);

  api.post<{ Body: OrganizationCreate }>(
    '/organizations',
    {
      config: { idempotent: true },
      schema: {
        tags: ['organizations'],
        summary: 'Create an organization; the caller becomes its owner',
        body: OrganizationCreateSchema,
        response: { 201: OrganizationSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const organization = await organizations.create(request.actor, request.body.name.trim());
      return reply.code(201).send(presentOrganization(organization));
    },
  );

  api.get<{ Querystring: OrganizationListQuery }>(
    '/organizations',
    {
      schema: {
        tags: ['organizations'],
        summary: 'List your organizations (platform admins: every organization with all=true)',
        querystring: OrganizationListQuerySchema,
        response: { 200: pageOf(OrganizationSchema), ...problemResponses },
      },
    },
    async (request) => {
      const { page, window } = readListWindow(request.query, organizationSortFields, {
        field: 'name',
        direction: 'asc',
      });
      const rows = await organizations.list(
        request.actor,
        { all: request.query.all === 'true', q: request.query.q },
        window,
      );
      return toPage(rows, page, (row) => [row[window.sort.field], row.id], presentOrganization);
    },
  );

  api.get<{ Params: OrgParams }>(
    '/organizations/:org_id',
    {
      config: {
        deprecation: {
          deprecatedAt: '2026-11-26',
          sunsetAt: '2027-06-30',
          successor: '/api/v2/organizations/{org_id}',
        },
      },
      schema: {
        tags: ['organizations'],
        summary: 'Read an organization (deprecated: use /api/v2/organizations/{org_id})',
        deprecated: true,
        params: OrgParamsSchema,
        response: { 200: OrganizationSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.read');
      return presentOrganization(await organizations.get(scope));
    },
  );

  api.patch<{ Params: OrgParams; Body: OrganizationCreate }>(
    '/organizations/:org_id',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Rename an organization',
        params: OrgParamsSchema,
        body: OrganizationCreateSchema,
        response: { 200: OrganizationSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.update');
      return presentOrganization(await organizations.rename(scope, request.body.name.trim()));
    },
  );

  api.delete<{ Params: OrgParams }>(
    '/organizations/:org_id',
    {
      schema: {
        tags: ['organizations'],
        summary: `Delete an organization: hidden at once, data kept ${deletedOrganizationRetentionDays} days before purge`,
        params: OrgParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.delete');
      await organizations.delete(scope);
      return reply.code(204).send();
    },
  );

  api.post<{ Params: OrgParams; Body: Transfer }>(
    '/organizations/:org_id/transfer-ownership',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Make another member the owner; the previous owner becomes an admin',
        params: OrgParamsSchema,
        body: TransferSchema,
        response: { 200: TransferResultSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.transfer');
      const transfer = await organizations.transferOwnership(scope, request.body.user_id);
      return { owner: presentMember(transfer.owner), previous_owners: transfer.previousOwners.map(presentMember) };
    },
  );

  api.post<{ Params: OrgParams }>(
    '/organizations/:org_id/leave',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Leave an organization (the owner must transfer ownership first: 409)',
        params: OrgParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'org.leave');
      await organizations.leave(scope);
      return reply.code(204).send();
    },
  );
};
