import type { FastifyInstance } from 'fastify';
import type { KeyPrincipal } from '../modules/keys/index.ts';
import { extractKey, type KeyAuthenticator } from './key-authenticator.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified key the request acts as; set before any /v1 handler runs. */
    principal: KeyPrincipal;
  }
}

/** Verifies the key before the body is even read, so unauthenticated callers cannot make us parse large bodies. */
export function registerKeyAuthentication(app: FastifyInstance, authenticator: KeyAuthenticator): void {
  app.decorateRequest('principal', null as unknown as KeyPrincipal);
  app.addHook('onRequest', async (request) => {
    request.principal = await authenticator.authenticate(extractKey(request.headers));
  });
}
