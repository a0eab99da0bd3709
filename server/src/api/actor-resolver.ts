import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors/app-error.ts';
import type { KeyAuthenticator } from '../gateway/key-authenticator.ts';
import { assertKeyAllowedFrom } from '../gateway/key-policy.ts';
import type { AccessTokens } from '../modules/identity/access-tokens.ts';
import { looksLikeJwt } from '../modules/identity/access-tokens.ts';
import type { Actor } from '../modules/shared/index.ts';

export const sessionCookie = 'aihub_session';
export const csrfCookie = 'aihub_csrf';
export const csrfHeader = 'x-csrf-token';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Works out who is calling the management API, in this order: a bearer access token (API clients), a bearer API
 * key with a management scope, or the console's session cookie (which also needs the CSRF header on writes).
 */
export class ActorResolver {
  readonly #db: Database;
  readonly #accessTokens: AccessTokens;
  readonly #keys: KeyAuthenticator;

  constructor(db: Database, accessTokens: AccessTokens, keys: KeyAuthenticator) {
    this.#db = db;
    this.#accessTokens = accessTokens;
    this.#keys = keys;
  }

  async resolve(request: FastifyRequest): Promise<Actor> {
    const context = { ip: request.ip, requestId: request.id };
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined && !looksLikeJwt(bearer)) {
      const principal = await this.#keys.authenticate(bearer);
      assertKeyAllowedFrom(principal, request.ip);
      const needed = safeMethods.has(request.method) ? 'management:read' : 'management:write';
      if (
        !principal.scopes.has(needed) &&
        !(needed === 'management:read' && principal.scopes.has('management:write'))
      ) {
        throw new AppError('forbidden', `this API key lacks the ${needed} scope`);
      }
      const user = await this.#activeUser(principal.userId);
      return {
        userId: user.id,
        platformRole: user.role,
        via: 'api_key',
        keyId: principal.keyId,
        keyOrgId: principal.orgId,
        ...context,
      };
    }
    const cookieToken = request.cookies[sessionCookie];
    const token = bearer ?? cookieToken;
    if (token === undefined) throw new AppError('unauthenticated', 'sign in, or send an access token or API key');
    if (bearer === undefined && !safeMethods.has(request.method)) {
      const expected = request.cookies[csrfCookie];
      const presented = request.headers[csrfHeader];
      if (!expected || typeof presented !== 'string' || presented !== expected) {
        throw new AppError('csrf_failed', `send the ${csrfHeader} header with the value of the ${csrfCookie} cookie`);
      }
    }
    const claims = await this.#accessTokens.verify(token);
    const session = await this.#db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('family_id', '=', claims.sessionId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!session) throw new AppError('unauthenticated', 'this session has ended; sign in again');
    const user = await this.#activeUser(claims.userId);
    return { userId: user.id, platformRole: user.role, via: 'session', sessionId: claims.sessionId, ...context };
  }

  async #activeUser(userId: string): Promise<{ id: string; role: 'admin' | 'member' }> {
    const user = await this.#db
      .selectFrom('users')
      .select(['id', 'role', 'disabled_at'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user || user.disabled_at !== null) throw new AppError('unauthenticated', 'this account is not active');
    return { id: user.id, role: user.role };
  }
}
