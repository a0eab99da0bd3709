import cookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import type { Actor } from '../modules/shared/index.ts';
import type { Authorizer } from '../modules/tenancy/index.ts';
import type { ActorResolver } from './actor-resolver.ts';
import { registerDeprecationHeaders } from './deprecation.ts';
import { registerIdempotency } from './idempotency.ts';
import { assertNoNulCharacter } from './storable-text.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes reachable without signing in (login, registration, invitation lookup). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The signed-in user or management key; set on every non-public /api route. */
    actor: Actor;
  }
}

export interface ManagementApiDependencies {
  db: Database;
  actors: ActorResolver;
  /** The routes' authorizer (see `replayableAuthorizer`): idempotent replays re-run the checks through it. */
  authorizer: Authorizer;
  /** How long idempotency records answer retries; 24 hours by default. */
  idempotencyTtlSeconds?: number | undefined;
  /** Each domain adds its routes here, inside the /api/v1 scope. */
  routes: ReadonlyArray<(api: FastifyInstance) => void | Promise<void>>;
  /** Routes whose v2 shape already exists (see docs/api-versioning.md), under /api/v2. */
  v2Routes?: ReadonlyArray<(api: FastifyInstance) => void | Promise<void>>;
}

/**
 * The versioned management API under /api/v1 (and /api/v2 for routes that have a v2 shape): problem+json errors, sign-in by access token, API key or session
 * cookie (with CSRF on writes), idempotency keys on creating POSTs, deprecation headers from route metadata.
 */
export async function registerManagementApi(
  app: FastifyInstance,
  dependencies: ManagementApiDependencies,
): Promise<void> {
  const versions = [
    ['/api/v1', dependencies.routes],
    ['/api/v2', dependencies.v2Routes ?? []],
  ] as const;
  for (const [prefix, routes] of versions) {
    await app.register(
      async (api) => {
        // Cookies matter only to the console's API; the gateway's hot path never parses them.
        await api.register(cookie);
        api.decorateRequest('actor', null as unknown as Actor);
        api.addHook('onRoute', (route) => {
          route.config = { ...route.config, errorFormat: 'problem' };
        });
        // Before body parsing: a caller who is not signed in learns nothing about what a valid body looks like.
        api.addHook('onRequest', async (request) => {
          if (request.routeOptions.config.public) return;
          request.actor = await dependencies.actors.resolve(request);
        });
        api.addHook('preValidation', async (request) => {
          assertNoNulCharacter('path', request.params);
          assertNoNulCharacter('query', request.query);
          assertNoNulCharacter('body', request.body);
        });
        registerIdempotency(api, {
          db: dependencies.db,
          authorizer: dependencies.authorizer,
          ...(dependencies.idempotencyTtlSeconds === undefined
            ? {}
            : { ttlSeconds: dependencies.idempotencyTtlSeconds }),
        });
        registerDeprecationHeaders(api);
        for (const register of routes) await register(api);
      },
      { prefix },
    );
  }
}
