import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfCookie, csrfHeader, sessionCookie } from '../../api/actor-resolver.ts';
import type { Config } from '../../config/config.ts';
import { AppError } from '../../errors/app-error.ts';
import type { SessionTokens } from './session-service.ts';

/** The refresh token's cookie; sent only to the auth routes, never with ordinary API calls. */
export const refreshCookie = 'aihub_refresh';
export const refreshCookiePath = '/api/v1/auth';

/**
 * Hands a session to the console as cookies: the access token and the refresh token httpOnly (scripts cannot read
 * them), SameSite=Lax, Secure when the public URL is https; plus a fresh readable CSRF token the console echoes in
 * the x-csrf-token header on writes (double-submit).
 */
export function setSessionCookies(reply: FastifyReply, tokens: SessionTokens, config: Config): void {
  const secure = config.identity.publicUrl.startsWith('https:');
  const refreshMaxAge = config.identity.refreshTokenTtlSeconds;
  reply.setCookie(sessionCookie, tokens.accessToken, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: tokens.expiresIn,
  });
  reply.setCookie(refreshCookie, tokens.refreshToken, {
    path: refreshCookiePath,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: refreshMaxAge,
  });
  reply.setCookie(csrfCookie, randomBytes(32).toString('base64url'), {
    path: '/',
    httpOnly: false,
    sameSite: 'lax',
    secure,
    maxAge: refreshMaxAge,
  });
}

export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(sessionCookie, { path: '/' });
  reply.clearCookie(refreshCookie, { path: refreshCookiePath });
  reply.clearCookie(csrfCookie, { path: '/' });
}

/**
 * Public routes that act on the refresh cookie (refresh) skip the ActorResolver, so they check the double-submit
 * CSRF token themselves.
 */
export function assertCsrfHeader(request: FastifyRequest): void {
  const expected = request.cookies[csrfCookie];
  const presented = request.headers[csrfHeader];
  if (!expected || typeof presented !== 'string' || presented !== expected) {
    throw new AppError('csrf_failed', `send the ${csrfHeader} header with the value of the ${csrfCookie} cookie`);
  }
}
