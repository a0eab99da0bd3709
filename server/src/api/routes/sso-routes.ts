import Type from 'typebox';
import { SecretBox } from '../../lib/secret-box.ts';
import { setSessionCookies } from '../../modules/identity/index.ts';
import { readSsoSettings } from '../../modules/tenancy/index.ts';
import {
  OidcConfigurations,
  SsoLoginService,
  SsoTransactionSealer,
  readReturnTo,
  readSsoRuntimeOptions,
  ssoTransactionCookie,
  ssoTransactionTtlMs,
} from '../../modules/sso/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { problemResponses } from '../problem.ts';

const OrgParamsSchema = Type.Object({ org_id: Type.String({ minLength: 1, maxLength: 128 }) });
type OrgParams = Type.Static<typeof OrgParamsSchema>;

const LoginQuerySchema = Type.Object({
  return_to: Type.Optional(
    Type.String({ maxLength: 2048, description: 'A path on this site to return to after signing in; default /' }),
  ),
});
type LoginQuery = Type.Static<typeof LoginQuerySchema>;

/** What the identity provider sends back; anything else it adds is passed on to openid-client untouched. */
const CallbackQuerySchema = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  state: Type.Optional(Type.String({ maxLength: 512 })),
  iss: Type.Optional(Type.String({ maxLength: 2048 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
  error_description: Type.Optional(Type.String({ maxLength: 2048 })),
});

const RedirectSchema = Type.Null({ description: 'Redirect (Location header)' });

/**
 * Single sign-on with an organization's OpenID Connect provider. Both routes are public: `login` sends the browser to
 * the provider, `callback` is where the provider sends it back; it ends signed in to the console (session cookies)
 * at `return_to`.
 */
export const registerSsoRoutes: ApiRoutes = (api, context) => {
  const options = readSsoRuntimeOptions(context.config);
  const configurations = new OidcConfigurations({ outbound: { allowInsecureLoopback: options.allowInsecureLoopback } });
  const secretBox = new SecretBox(context.config.secretKey);
  const service = new SsoLoginService({
    db: context.db,
    readSettings: (orgId) => readSsoSettings(context.db, orgId, secretBox),
    configurations,
    transactions: new SsoTransactionSealer(context.config.secretKey),
  });
  const secureCookies = options.publicUrl.startsWith('https:');
  const orgPath = (orgId: string) => `/api/v1/sso/${encodeURIComponent(orgId)}`;
  api.addHook('onClose', () => configurations.close());

  api.get<{ Params: OrgParams; Querystring: LoginQuery }>(
    '/sso/:org_id/login',
    {
      config: { public: true },
      schema: {
        tags: ['sso'],
        summary: "Start signing in with the organization's identity provider",
        params: OrgParamsSchema,
        querystring: LoginQuerySchema,
        security: [],
        response: { 302: RedirectSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const orgId = request.params.org_id;
      const returnTo = readReturnTo(request.query.return_to);
      const { authorizationUrl, sealedTransaction } = await service.beginLogin(orgId, {
        redirectUri: `${options.publicUrl}${orgPath(orgId)}/callback`,
        returnTo,
      });
      // SameSite=Lax: the callback arrives as a top-level navigation from the provider's site, which Strict would drop.
      reply.setCookie(ssoTransactionCookie, sealedTransaction, {
        httpOnly: true,
        secure: secureCookies,
        sameSite: 'lax',
        path: orgPath(orgId),
        maxAge: ssoTransactionTtlMs / 1000,
      });
      return reply.header('cache-control', 'no-store').redirect(authorizationUrl, 302);
    },
  );

  api.get<{ Params: OrgParams }>(
    '/sso/:org_id/callback',
    {
      config: { public: true },
      schema: {
        tags: ['sso'],
        summary: 'Where the identity provider returns to; signs in and redirects to return_to',
        params: OrgParamsSchema,
        querystring: CallbackQuerySchema,
        security: [],
        response: { 302: RedirectSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const orgId = request.params.org_id;
      // The transaction is single-use whatever the outcome.
      reply.clearCookie(ssoTransactionCookie, { path: orgPath(orgId) });
      const queryStart = request.url.indexOf('?');
      const { userId, returnTo } = await service.completeLogin(orgId, {
        sealedTransaction: request.cookies[ssoTransactionCookie],
        query: queryStart === -1 ? '' : request.url.slice(queryStart + 1),
        ip: request.ip,
        requestId: request.id,
      });
      const tokens = await context.identity.sessions.startSession(userId, {
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      setSessionCookies(reply, tokens, context.config);
      return reply.header('cache-control', 'no-store').redirect(returnTo, 302);
    },
  );
};
