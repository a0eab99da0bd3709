import Type from 'typebox';
import { AccountStatusService, type AccountStatus } from '../../modules/identity/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { problemResponses } from '../problem.ts';

const UserParamsSchema = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 128 }) });
type UserParams = Type.Static<typeof UserParamsSchema>;

const AccountStatusSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
  disabled_at: Type.Union([Type.Integer(), Type.Null()], {
    description: 'When the account was disabled (epoch milliseconds); null while it is active',
  }),
});
type AccountStatusBody = Type.Static<typeof AccountStatusSchema>;

function presentAccountStatus(account: AccountStatus): AccountStatusBody {
  return {
    id: account.id,
    email: account.email,
    name: account.name,
    platform_role: account.platformRole,
    disabled_at: account.disabledAt,
  };
}

const disableDescription =
  'Platform admins only. The user can no longer sign in; their sessions and refresh tokens end at once and their API ' +
  'keys are refused by the gateway at once on this instance and within one revocation poll on the others. The keys ' +
  'are not revoked: enabling the account lets them work again. 409 when disabling yourself or the last active ' +
  'platform admin. Disabling a disabled account changes nothing.';

/** Platform-wide account administration: `POST /users/{user_id}/disable` and `/enable`, for platform admins. */
export const registerUserRoutes: ApiRoutes = (api, context) => {
  const accounts = new AccountStatusService({ db: context.db, keys: context.keys });

  api.post<{ Params: UserParams }>(
    '/users/:user_id/disable',
    {
      schema: {
        tags: ['users'],
        summary: "Disable a user's account, their sessions and their keys",
        description: disableDescription,
        params: UserParamsSchema,
        response: { 200: AccountStatusSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = context.authorizer.authorizePlatform(request.actor);
      return presentAccountStatus(await accounts.disableAccount(scope, request.params.user_id));
    },
  );

  api.post<{ Params: UserParams }>(
    '/users/:user_id/enable',
    {
      schema: {
        tags: ['users'],
        summary: 'Enable a disabled account again',
        description:
          'Platform admins only. The user may sign in again and their keys (never revoked by disabling) work again ' +
          'on every instance within one revocation poll. Enabling an active account changes nothing.',
        params: UserParamsSchema,
        response: { 200: AccountStatusSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = context.authorizer.authorizePlatform(request.actor);
      return presentAccountStatus(await accounts.enableAccount(scope, request.params.user_id));
    },
  );
};
