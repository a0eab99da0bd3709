import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.ts';
import { RegistryHolder, type RegistrySource } from '../gateway/registry-holder.ts';
import { RoutingRuntime } from '../gateway/routing/routing-runtime.ts';
import { UpstreamClient } from '../gateway/upstream-client.ts';

export interface Routing {
  readonly registry: RegistryHolder;
  readonly runtime: RoutingRuntime;
  readonly upstream: UpstreamClient;
}

/**
 * Wires the routing table (file + database registry, reloaded when the registry epoch moves), the router with its
 * breakers (shared through Redis when REDIS_URL is set), and the upstream pools; and says in the log what an
 * operator must know: breakers opening and closing, credentials the upstream refused, models without a price,
 * database entries the file overrides.
 */
export async function createRouting(
  config: Config,
  source: RegistrySource,
  log: FastifyBaseLogger,
  now: (() => number) | undefined,
): Promise<Routing> {
  const upstream = new UpstreamClient();
  const redisUrl = config.operations.redisUrl;
  // Loaded only in cluster mode: an instance on its own does not carry the Redis client.
  const store = redisUrl
    ? new (await import('../gateway/routing/redis-breaker-store.ts')).RedisBreakerStore({
        url: redisUrl,
        ...(now ? { now } : {}),
        // The store reports once per outage.
        onError: (error) =>
          log.warn({ err: error }, 'Redis unreachable: circuit breakers work per instance until it returns'),
      })
    : undefined;
  const runtime = new RoutingRuntime(config.routing, {
    store,
    ...(now ? { now } : {}),
    onTransition: (event) => {
      if (event.remote) return;
      const fields = { breaker: event.key, from: event.from, to: event.to, reason: event.reason };
      if (event.to === 'closed') log.info(fields, 'circuit breaker closed: the deployment answers again');
      else log.warn(fields, `circuit breaker ${event.to}`);
    },
    notify: (event) => {
      log.error(
        { deployment: event.deploymentId, credential: event.credentialKey, reason: event.reason },
        'an upstream credential was refused and taken out of rotation; enable it again once fixed',
      );
    },
  });
  let warnedUnpriced = new Set<string>();
  const registry = new RegistryHolder(config, {
    source,
    ...(now ? { now } : {}),
    onSwap: (table, change) => {
      runtime.retain(table);
      upstream.retain(
        table.all().flatMap((model) => model.deployments.map((deployment) => deployment.provider.config)),
      );
      if (change.shadowed.length > 0) {
        log.warn(
          { entries: change.shadowed },
          'registry entries in the database are overridden by the configuration file',
        );
      }
      const fresh = change.unpriced.filter((name) => !warnedUnpriced.has(name));
      if (fresh.length > 0) log.warn({ models: fresh }, 'models without a price are metered at zero cost');
      warnedUnpriced = new Set(change.unpriced);
    },
    onError: (error) => log.warn({ err: error }, 'could not reload the model registry; the current one stays'),
  });
  return { registry, runtime, upstream };
}
