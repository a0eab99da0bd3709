import type { FastifyInstance } from 'fastify';

export interface RouteDeprecation {
  /** When the route was deprecated (ISO date). */
  deprecatedAt: string;
  /** When it stops working (ISO date), if decided. */
  sunsetAt?: string;
  /** Path of the route that replaces it. */
  successor?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    deprecation?: RouteDeprecation;
  }
}

/**
 * Versioning policy: paths carry the major version (/api/v1); within a version changes are additive only. A route
 * being replaced keeps working and announces it on every response with `Deprecation` (RFC 9745, a structured-field
 * date), `Sunset` (RFC 8594, an HTTP date) and a `Link` to its successor.
 */
export function registerDeprecationHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const deprecation = request.routeOptions.config.deprecation;
    if (!deprecation) return payload;
    reply.header('deprecation', `@${Math.floor(Date.parse(deprecation.deprecatedAt) / 1000)}`);
    if (deprecation.sunsetAt) reply.header('sunset', new Date(deprecation.sunsetAt).toUTCString());
    if (deprecation.successor) {
      // The successor is a route pattern ("/api/v2/organizations/{org_id}"): fill it with this request's parameters.
      const params = request.params as Record<string, string | undefined>;
      const successor = deprecation.successor.replace(/\{(\w+)\}/g, (_match, name: string) =>
        encodeURIComponent(params[name] ?? ''),
      );
      reply.header('link', `<${successor}>; rel="successor-version"`);
    }
    return payload;
  });
}
