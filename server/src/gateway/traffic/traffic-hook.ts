import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RegistryHolder } from '../registry-holder.ts';
import { demandReaderFor } from './demand.ts';
import { unlimitedAdmission, type Admission, type RateLimitHeaders, type TrafficControl } from './traffic-control.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What traffic control admitted this request with; settled when the response ends. */
    admission: Admission;
  }
}

/**
 * Puts every gateway route behind traffic control, in one hook: after the key is verified and the body validated,
 * the request is admitted (or refused with 429) before its handler runs, and whatever it holds is released when its
 * response ends, however it ends. A /v1 route without an entry in `endpointDemands` fails at start-up.
 */
export function registerTrafficControl(app: FastifyInstance, control: TrafficControl, registry: RegistryHolder): void {
  app.decorateRequest('admission', null as unknown as Admission);
  app.addHook('onRoute', (route) => {
    if (demandReaderFor(route.url) === undefined) {
      throw new Error(`gateway route ${route.url} needs an entry in endpointDemands (gateway/traffic/demand.ts)`);
    }
  });
  app.addHook('preHandler', async (request, reply) => {
    const readDemand = demandReaderFor(request.routeOptions.url ?? '');
    if (readDemand === undefined) throw new Error(`no traffic demand for ${request.routeOptions.url}`);
    const demand = readDemand(request.body);
    const table = registry.table;
    const model = demand.model === undefined ? undefined : table.resolve(demand.model, request.principal.orgId);
    const admission = await control.admit(request.principal, demand, table, model);
    request.admission = admission;
    if (admission === unlimitedAdmission) return;
    setRateLimitHeaders(reply, admission.headers);
    // 'close' when the response went out whole, and also when the client went away first.
    reply.raw.once('close', () => admission.release());
  });
}

function setRateLimitHeaders(reply: FastifyReply, headers: RateLimitHeaders): void {
  const { requests, tokens } = headers;
  if (requests) {
    reply.header('x-ratelimit-limit-requests', String(requests.limit));
    reply.header('x-ratelimit-remaining-requests', String(requests.remaining));
    reply.header('x-ratelimit-reset-requests', formatDuration(requests.resetMs));
  }
  if (tokens) {
    reply.header('x-ratelimit-limit-tokens', String(tokens.limit));
    reply.header('x-ratelimit-remaining-tokens', String(tokens.remaining));
    reply.header('x-ratelimit-reset-tokens', formatDuration(tokens.resetMs));
  }
}

/** OpenAI's way of writing a reset time: `250ms`, `12s`, `1m30s`. */
export function formatDuration(milliseconds: number): string {
  const rounded = Math.max(0, Math.ceil(milliseconds));
  if (rounded < 1000) return `${rounded}ms`;
  const seconds = Math.ceil(rounded / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
