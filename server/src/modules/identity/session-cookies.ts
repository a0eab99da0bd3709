import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/config.ts';
import { AppError } from '../../errors/app-error.ts';
import { deviceCookie, deviceCookieMaxAgeSeconds } from './known-device.ts';
import type { SessionTokens } from './session-service.ts';

/** The console's access token; httpOnly. */
export const sessionCookie = 'aihub_session';
/** The CSRF token the console reads and echoes in `csrfHeader` on writes. */
export const csrfCookie = 'aihub_csrf';
export const csrfHeader = 'x-csrf-token';

/** The refresh token's cookie; sent only to the auth routes, never with ordinary API calls. */
export const refreshCookie = 'aihub_refresh';
export const refreshCookiePath = '/api/v1/auth';

/**
 * Hands a session to the console as cookies: the access token and the refresh token httpOnly (scripts cannot read
 * them), SameSite=Lax, Secure when the public URL is https; plus a readable CSRF token the console echoes in the
 * x-csrf-token header on writes. The token is bound to the session (see `csrfTokenFor`).
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
  reply.setCookie(csrfCookie, csrfTokenFor(config.secretKey, tokens.sessionId), {
    path: '/',
    httpOnly: false,
    sameSite: 'lax',
    secure,
    maxAge: refreshMaxAge,
  });
}

/**
 * Marks the browser as a device known to the account (see known-device.ts): sent only to the auth routes, kept a year
 * and through sign-out, so the user's own device is never held back by failures elsewhere.
 */
export function setDeviceCookie(reply: FastifyReply, deviceToken: string, config: Config): void {
  reply.setCookie(deviceCookie, deviceToken, {
    path: refreshCookiePath,
    httpOnly: true,
    sameSite: 'lax',
    secure: config.identity.publicUrl.startsWith('https:'),
    maxAge: deviceCookieMaxAgeSeconds,
  });
}

export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(sessionCookie, { path: '/' });
  reply.clearCookie(refreshCookie, { path: refreshCookiePath });
  reply.clearCookie(csrfCookie, { path: '/' });
}

/**
 * The CSRF token of one session: an HMAC of the session id under a key derived from the server secret. A plain
 * double-submit token (any value, as long as cookie and header agree) passes when an attacker can plant cookies
 * (a sibling subdomain, an http:// page on the same host); a token bound to the session cannot be forged without
 * the server secret, and it changes with every new session.
 */
export function csrfTokenFor(secretKey: Buffer, sessionId: string): string {
  const key = createHmac('sha256', secretKey).update('aihub/csrf-token/v1').digest();
  return createHmac('sha256', key).update(sessionId).digest('base64url');
}

/**
 * Checks the x-csrf-token header of a cookie-authenticated write against the token of the session it acts in.
 * The ActorResolver calls it for every cookie write; the refresh route (public, acting on the refresh cookie) too.
 */
export function assertCsrfHeader(request: FastifyRequest, secretKey: Buffer, sessionId: string | undefined): void {
  const header = request.headers[csrfHeader];
  const presented = typeof header === 'string' ? Buffer.from(header) : undefined;
  const expected = sessionId === undefined ? undefined : Buffer.from(csrfTokenFor(secretKey, sessionId));
  // Bytes, not characters, are compared for length: timingSafeEqual throws on buffers of different sizes.
  const matches =
    expected !== undefined &&
    presented !== undefined &&
    presented.length === expected.length &&
    timingSafeEqual(presented, expected);
  if (!matches) {
    throw new AppError('csrf_failed', `send the ${csrfHeader} header with the value of the ${csrfCookie} cookie`);
  }
}
