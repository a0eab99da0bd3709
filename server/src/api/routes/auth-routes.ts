import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import {
  assertCsrfHeader,
  clearSessionCookies,
  deviceCookie,
  presentAccount,
  refreshCookie,
  setDeviceCookie,
  setSessionCookies,
  type RequestOrigin,
  type SessionTokens,
} from '../../modules/identity/index.ts';
import type { ApiContext, ApiRoutes } from '../api-context.ts';
import { problemResponses } from '../problem.ts';

const tags = ['auth'];
/** Public routes take no credentials; OpenAPI shows them without a lock. */
const noSecurity: Array<Record<string, string[]>> = [];

// Passwords are bounded here only to cap hashing work; the policy's own limits answer with weak_password.
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Email = Type.String({ minLength: 3, maxLength: 320 });
const OneTimeToken = Type.String({ minLength: 1, maxLength: 512 });

const AccountSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
  email_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

const RegisterBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    invitation_token: Type.Optional(OneTimeToken),
  },
  { additionalProperties: false },
);

const LoginBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
const SessionQuery = Type.Object({
  session: Type.Optional(Type.Literal('cookie', { description: 'sign the console in with cookies instead' })),
});
const RefreshBody = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) },
  { additionalProperties: false },
);

const BearerSession = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds until the access token expires' }),
  refresh_token: Type.String(),
});
const CookieSession = Type.Object({
  session: Type.Literal('cookie'),
  expires_in: Type.Integer({ description: 'seconds until the aihub_session cookie expires' }),
});
const SessionResponse = Type.Union([BearerSession, CookieSession]);

const PasswordChangeBody = Type.Object(
  { current_password: Password, new_password: Password },
  { additionalProperties: false },
);
const ResetRequestBody = Type.Object({ email: Email }, { additionalProperties: false });
const ResetBody = Type.Object({ token: OneTimeToken, new_password: Password }, { additionalProperties: false });
const VerifyBody = Type.Object({ token: OneTimeToken }, { additionalProperties: false });

const NoContent = Type.Null({ description: 'done' });
const Accepted = Type.Null({ description: 'accepted; an email follows when there is something to send' });

/**
 * `/api/v1/auth/*`: registration, sign-in (bearer tokens for API clients, cookies for the console), refresh with
 * rotation, sign-out, password change and reset, email verification.
 */
export const registerAuthRoutes: ApiRoutes = (api, context) => {
  const { accounts, logins, passwords, sessions } = context.identity;

  api.post<{ Body: Type.Static<typeof RegisterBody> }>(
    '/auth/register',
    {
      config: { public: true, idempotent: true },
      schema: {
        tags,
        summary: 'Create an account (as the registration mode allows)',
        security: noSecurity,
        body: RegisterBody,
        response: { 201: AccountSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { email, password, name, invitation_token: invitationToken } = request.body;
      const account = await accounts.register({ email, password, name, invitationToken }, originOf(request));
      return reply.code(201).send(presentAccount(account));
    },
  );

  api.post<{ Body: Type.Static<typeof LoginBody>; Querystring: Type.Static<typeof SessionQuery> }>(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Sign in with email and password',
        description:
          'Returns bearer tokens; with `?session=cookie` or `x-aihub-client: console` it sets the aihub_session, ' +
          'aihub_refresh and aihub_csrf cookies instead and the body holds no tokens. Every success also sets ' +
          'aihub_device, which marks the device as known to the account: failed sign-ins from elsewhere never ' +
          'hold it back (see docs/identity.md).',
        security: noSecurity,
        querystring: SessionQuery,
        body: LoginBody,
        response: { 200: SessionResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { tokens, deviceToken } = await logins.login(request.body.email, request.body.password, {
        ...originOf(request),
        deviceToken: request.cookies[deviceCookie],
      });
      setDeviceCookie(reply, deviceToken, context.config);
      return sendSession(reply, tokens, wantsCookies(request), context);
    },
  );

  api.post<{ Body: Type.Static<typeof RefreshBody> }>(
    '/auth/refresh',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Trade a refresh token for new tokens (the old one is retired)',
        description:
          'Takes `refresh_token` from the body, or else the aihub_refresh cookie (then the x-csrf-token header is ' +
          'required and new cookies are set). Presenting a retired token again ends the whole session.',
        security: noSecurity,
        body: RefreshBody,
        response: { 200: SessionResponse, ...problemResponses },
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const fromBody = request.body.refresh_token;
      const token = fromBody ?? request.cookies[refreshCookie];
      if (token === undefined) {
        throw new AppError('unauthenticated', `send refresh_token, or the ${refreshCookie} cookie`);
      }
      if (fromBody === undefined) {
        assertCsrfHeader(request, context.config.secretKey, await sessions.sessionIdOf(token));
      }
      const tokens = await sessions.refresh(token, originOf(request));
      return sendSession(reply, tokens, fromBody === undefined, context);
    },
  );

  api.post(
    '/auth/logout',
    {
      schema: {
        tags,
        summary: 'Sign out: end this session and clear its cookies',
        response: { 204: NoContent, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { sessionId } = request.actor;
      if (sessionId === undefined) {
        throw new AppError('invalid_request', 'an API key has no session to end; revoke the key instead');
      }
      await sessions.endSession(sessionId);
      clearSessionCookies(reply);
      return reply.code(204).send();
    },
  );

  api.post(
    '/auth/logout-all',
    {
      schema: {
        tags,
        summary: 'Sign out everywhere: end every session of this user',
        response: { 204: NoContent, ...problemResponses },
      },
    },
    async (request, reply) => {
      await sessions.endAllSessions(request.actor);
      clearSessionCookies(reply);
      return reply.code(204).send();
    },
  );

  api.post<{ Body: Type.Static<typeof PasswordChangeBody> }>(
    '/auth/password/change',
    {
      schema: {
        tags,
        summary: 'Change the password; every other session ends',
        body: PasswordChangeBody,
        response: { 204: NoContent, ...problemResponses },
      },
    },
    async (request, reply) => {
      await passwords.changePassword(request.actor, request.body.current_password, request.body.new_password);
      return reply.code(204).send();
    },
  );

  api.post<{ Body: Type.Static<typeof ResetRequestBody> }>(
    '/auth/password/reset-request',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Email a password reset link (always 202, whether or not the account exists)',
        security: noSecurity,
        body: ResetRequestBody,
        response: { 202: Accepted, ...problemResponses },
      },
    },
    async (request, reply) => {
      await passwords.requestPasswordReset(request.body.email, request.ip);
      return reply.code(202).send();
    },
  );

  api.post<{ Body: Type.Static<typeof ResetBody> }>(
    '/auth/password/reset',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Set a new password with the token from a reset link; every session ends',
        security: noSecurity,
        body: ResetBody,
        response: { 204: NoContent, ...problemResponses },
      },
    },
    async (request, reply) => {
      await passwords.resetPassword(request.body.token, request.body.new_password, originOf(request));
      return reply.code(204).send();
    },
  );

  api.post(
    '/auth/email/verify-request',
    {
      schema: {
        tags,
        summary: 'Email a verification link to the signed-in user',
        response: { 202: Accepted, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.requestEmailVerification(request.actor);
      return reply.code(202).send();
    },
  );

  api.post<{ Body: Type.Static<typeof VerifyBody> }>(
    '/auth/email/verify',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Verify an email address with the token from a verification link',
        security: noSecurity,
        body: VerifyBody,
        response: { 204: NoContent, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.verifyEmail(request.body.token, originOf(request));
      return reply.code(204).send();
    },
  );
};

function originOf(request: FastifyRequest): RequestOrigin {
  return { ip: request.ip, userAgent: request.headers['user-agent'], requestId: request.id };
}

function wantsCookies(request: FastifyRequest<{ Querystring: Type.Static<typeof SessionQuery> }>): boolean {
  return request.query.session === 'cookie' || request.headers['x-aihub-client'] === 'console';
}

function sendSession(reply: FastifyReply, tokens: SessionTokens, asCookies: boolean, context: ApiContext) {
  // Tokens must not linger in caches (RFC 6749 §5.1).
  reply.header('cache-control', 'no-store');
  if (asCookies) {
    setSessionCookies(reply, tokens, context.config);
    return reply.send({ session: 'cookie', expires_in: tokens.expiresIn });
  }
  return reply.send({
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    refresh_token: tokens.refreshToken,
  });
}
