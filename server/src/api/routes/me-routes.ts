import Type from 'typebox';
import type { ApiRoutes } from '../api-context.ts';
import { problemResponses } from '../problem.ts';

const MeSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
  organizations: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() })),
});

/** `GET /api/v1/me`: the signed-in user and the organizations they belong to. */
export const registerMeRoutes: ApiRoutes = (api, context) => {
  api.get(
    '/me',
    {
      schema: {
        tags: ['identity'],
        summary: 'The signed-in user and their organizations',
        response: { 200: MeSchema, ...problemResponses },
      },
    },
    async (request) => {
      const user = await context.db
        .selectFrom('users')
        .select(['id', 'email', 'name', 'role'])
        .where('id', '=', request.actor.userId)
        .executeTakeFirstOrThrow();
      const organizations = await context.db
        .selectFrom('org_members')
        .innerJoin('organizations', 'organizations.id', 'org_members.org_id')
        .select(['organizations.id', 'organizations.name', 'org_members.role'])
        .where('org_members.user_id', '=', user.id)
        .where('organizations.deleted_at', 'is', null)
        .$if(request.actor.keyOrgId !== undefined, (query) =>
          query.where('organizations.id', '=', request.actor.keyOrgId ?? ''),
        )
        .orderBy('organizations.name')
        .execute();
      return { id: user.id, email: user.email, name: user.name, platform_role: user.role, organizations };
    },
  );
};
