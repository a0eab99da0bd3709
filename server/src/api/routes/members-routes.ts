import Type from 'typebox';
import { MemberService, memberSortFields, type MemberRow } from '../../modules/tenancy/index.ts';
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
} from './tenancy-schemas.ts';

export const MemberSchema = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: OrgRoleSchema,
  created_at: Type.Integer({ description: 'When they joined (epoch milliseconds)' }),
});
export type MemberBody = Type.Static<typeof MemberSchema>;

export function presentMember(member: MemberRow): MemberBody {
  return {
    user_id: member.user_id,
    email: member.email,
    name: member.name,
    role: member.role,
    created_at: member.created_at,
  };
}

const MemberParamsSchema = Type.Object({ ...OrgParamsSchema.properties, user_id: Type.String({ maxLength: 128 }) });
type MemberParams = Type.Static<typeof MemberParamsSchema>;

const MemberListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(memberSortFields, 'created_at'),
  role: Type.Optional(OrgRoleSchema),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Email or name contains' })),
});
type MemberListQuery = Type.Static<typeof MemberListQuerySchema>;

const MemberUpdateSchema = Type.Object({ role: OrgRoleSchema }, { additionalProperties: false });
type MemberUpdate = Type.Static<typeof MemberUpdateSchema>;

/**
 * Organization members. Role changes and removals follow the rank rules (docs/permissions.md): owner is never granted
 * or taken here, nobody grants above their own role or touches someone ranked at or above them.
 */
export const registerMemberRoutes: ApiRoutes = (api, context) => {
  const members = new MemberService(context.db, context.authorizer, context.keys);

  api.get<{ Params: Type.Static<typeof OrgParamsSchema>; Querystring: MemberListQuery }>(
    '/organizations/:org_id/members',
    {
      schema: {
        tags: ['members'],
        summary: 'List the members of an organization',
        params: OrgParamsSchema,
        querystring: MemberListQuerySchema,
        response: { 200: pageOf(MemberSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.read');
      const { page, window } = readListWindow(request.query, memberSortFields, {
        field: 'created_at',
        direction: 'asc',
      });
      const rows = await members.list(scope, { role: request.query.role, q: request.query.q }, window);
      return toPage(rows, page, (row) => [row[window.sort.field], row.user_id], presentMember);
    },
  );

  api.patch<{ Params: MemberParams; Body: MemberUpdate }>(
    '/organizations/:org_id/members/:user_id',
    {
      schema: {
        tags: ['members'],
        summary: "Change a member's role",
        params: MemberParamsSchema,
        body: MemberUpdateSchema,
        response: { 200: MemberSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.update');
      return presentMember(await members.changeRole(scope, request.params.user_id, request.body.role));
    },
  );

  api.delete<{ Params: MemberParams }>(
    '/organizations/:org_id/members/:user_id',
    {
      schema: {
        tags: ['members'],
        summary: 'Remove a member (and their team memberships)',
        params: MemberParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'members.remove');
      await members.remove(scope, request.params.user_id);
      return reply.code(204).send();
    },
  );
};
