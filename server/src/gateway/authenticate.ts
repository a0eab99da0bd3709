import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import type { KeyPrincipal } from '../modules/keys/index.ts';
import { extractKey, type KeyAuthenticator } from './key-authenticator.ts';
import { assertKeyAllowedFrom, assertKeyScope, scopeForRoute } from './key-policy.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified key the request acts as; set before any /v1 handler runs. */
    principal: KeyPrincipal;
    /** `performance.now()` when the gateway took the request: the start of AI Hub's own time on it. */
    receivedAt: number;
  }
}

/**
 * Verifies the key before the body is even read, so unauthenticated callers cannot make us parse large bodies; then
 * the key's policy: where it may be used from (IP allowlist) and what for (the endpoint's scope).
 */
export function registerKeyAuthentication(app: FastifyInstance, authenticator: KeyAuthenticator): void {
  app.decorateRequest('principal', null as unknown as KeyPrincipal);
  app.decorateRequest('receivedAt', 0);
  app.addHook('onRoute', (route) => {
    if (scopeForRoute(route.url) === undefined) {
      throw new Error(`gateway route ${route.url} needs an entry in endpointScopes (gateway/key-policy.ts)`);
    }
  });
  app.addHook('onRequest', async (request) => {
    request.receivedAt = performance.now();
    const principal = await authenticator.authenticate(extractKey(request.headers));
    assertKeyAllowedFrom(principal, request.ip);
    const scope = scopeForRoute(request.routeOptions.url ?? '');
    if (scope === undefined) throw new Error(`no key scope for ${request.routeOptions.url}`);
    assertKeyScope(principal, scope);
    request.principal = principal;
  });
}
