import Type from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import { UserRepository } from '../../modules/users/index.ts';
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
  const users = new UserRepository(context.db);
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
      const user = await users.findById(request.actor.userId);
      if (!user) throw new AppError('unauthenticated', 'this account no longer exists');
      const organizations = await users.listOrganizations(user.id, request.actor.keyOrgId);
      return { id: user.id, email: user.email, name: user.name, platform_role: user.role, organizations };
    },
  );
};
