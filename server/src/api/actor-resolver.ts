import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import type { KeyAuthenticator } from '../gateway/key-authenticator.ts';
import { assertKeyAllowedFrom } from '../gateway/key-policy.ts';
import {
  assertCsrfHeader,
  looksLikeJwt,
  sessionCookie,
  type AccessTokens,
  type SessionService,
} from '../modules/identity/index.ts';
import type { Actor } from '../modules/shared/index.ts';
import type { UserRepository } from '../modules/users/index.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ActorResolverDependencies {
  readonly accessTokens: AccessTokens;
  readonly keys: KeyAuthenticator;
  readonly sessions: Pick<SessionService, 'isLive'>;
  readonly users: Pick<UserRepository, 'findById'>;
  /** The server secret the console's CSRF tokens are derived from (see identity's session-cookies.ts). */
  readonly csrfSecret: Buffer;
}

/**
 * Works out who is calling the management API, in this order: a bearer access token (API clients), a bearer API
 * key with a management scope, or the console's session cookie (which also needs the session's CSRF token on writes).
 */
export class ActorResolver {
  readonly #dependencies: ActorResolverDependencies;

  constructor(dependencies: ActorResolverDependencies) {
    this.#dependencies = dependencies;
  }

  async resolve(request: FastifyRequest): Promise<Actor> {
    const context = { ip: request.ip, requestId: request.id };
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined && !looksLikeJwt(bearer)) {
      const principal = await this.#dependencies.keys.authenticate(bearer);
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
    const token = bearer ?? request.cookies[sessionCookie];
    if (token === undefined) throw new AppError('unauthenticated', 'sign in, or send an access token or API key');
    const claims = await this.#dependencies.accessTokens.verify(token);
    if (bearer === undefined && !safeMethods.has(request.method)) {
      assertCsrfHeader(request, this.#dependencies.csrfSecret, claims.sessionId);
    }
    if (!(await this.#dependencies.sessions.isLive(claims.sessionId))) {
      throw new AppError('unauthenticated', 'this session has ended; sign in again');
    }
    const user = await this.#activeUser(claims.userId);
    return { userId: user.id, platformRole: user.role, via: 'session', sessionId: claims.sessionId, ...context };
  }

  async #activeUser(userId: string): Promise<{ id: string; role: 'admin' | 'member' }> {
    const user = await this.#dependencies.users.findById(userId);
    if (!user || user.disabled_at !== null) throw new AppError('unauthenticated', 'this account is not active');
    return { id: user.id, role: user.role };
  }
}
