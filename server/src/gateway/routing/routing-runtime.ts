import type { RoutingConfig } from '../../config/config.ts';
import type { ModelCatalog } from '../model-catalog.ts';
import { LocalBreakerStore, type BreakerStore } from './breaker-store.ts';
import { CircuitBreakers, type BreakerTransition } from './circuit-breaker.ts';
import { DeploymentStats } from './deployment-stats.ts';
import { Router, type RoutingEvent } from './router.ts';
import { UpstreamLimits } from './upstream-limits.ts';

export interface RoutingRuntimeOptions {
  /** Shares breaker states with the other instances (`RedisBreakerStore` in cluster mode); in-process by default. */
  readonly store?: BreakerStore | undefined;
  readonly now?: () => number;
  /** A breaker changed state on this instance (or another, `remote`). */
  readonly onTransition?: (event: BreakerTransition) => void;
  /** Routing took a credential out of rotation; the notification hook observability delivers. */
  readonly notify?: (event: RoutingEvent) => void;
}

/** One credential of one deployment as the admin endpoint shows it. */
export interface CredentialHealth {
  readonly credentialId: string;
  readonly state: string;
  readonly since: number | null;
  readonly reason: string | null;
  readonly retryAt: number | null;
  readonly consecutiveFailures: number;
  /** While the upstream's own rate limit holds it back (epoch ms), else null. */
  readonly upstreamLimitedUntil: number | null;
}

export interface DeploymentHealth {
  readonly id: string;
  readonly models: readonly string[];
  readonly providerId: string;
  readonly orgId: string | null;
  readonly upstreamModel: string;
  readonly priority: number;
  readonly weight: number;
  readonly inFlight: number;
  readonly requests: number;
  readonly failures: number;
  readonly successRate: number | null;
  readonly p50LatencyMs: number | null;
  readonly p95LatencyMs: number | null;
  readonly ewmaFirstByteMs: number | null;
  readonly credentials: readonly CredentialHealth[];
}

/** The router and what it keeps per deployment: breakers (shared through Redis in cluster mode), stats and limits. */
export class RoutingRuntime {
  readonly router: Router;
  readonly #breakers: CircuitBreakers;
  readonly #stats: DeploymentStats;
  readonly #limits: UpstreamLimits;

  constructor(config: Pick<RoutingConfig, 'breaker' | 'respectUpstreamLimits'>, options: RoutingRuntimeOptions = {}) {
    const now = options.now ?? Date.now;
    const store: BreakerStore = options.store ?? new LocalBreakerStore();
    this.#breakers = new CircuitBreakers(config.breaker, {
      now,
      store,
      ...(options.onTransition ? { onTransition: options.onTransition } : {}),
    });
    this.#stats = new DeploymentStats({ now });
    this.#limits = new UpstreamLimits({ now });
    this.router = new Router({
      breakers: this.#breakers,
      stats: this.#stats,
      limits: this.#limits,
      respectUpstreamLimits: config.respectUpstreamLimits,
      now,
      ...(options.notify ? { notify: options.notify } : {}),
    });
  }

  /** After a registry change: forgets breakers, stats and limits of deployments and credentials that are gone. */
  retain(table: ModelCatalog): void {
    const deployments = new Set<string>();
    const credentials = new Set<string>();
    for (const model of table.all()) {
      for (const deployment of model.deployments) {
        deployments.add(deployment.id);
        for (const credential of deployment.credentials) credentials.add(credential.key);
      }
    }
    this.#breakers.forget(credentials);
    this.#limits.forget(credentials);
    this.#stats.forget(deployments);
  }

  /** Puts a credential the upstream refused (401/403) back into rotation. Returns false for an unknown key. */
  enable(credentialKey: string): boolean {
    const known = this.#breakers.snapshot().some((status) => status.key === credentialKey);
    if (known) this.#breakers.enable(credentialKey);
    return known;
  }

  /** Every deployment of the table with its live state, for the admin endpoint. */
  health(table: ModelCatalog): DeploymentHealth[] {
    const breakers = new Map(this.#breakers.snapshot().map((status) => [status.key, status]));
    const stats = new Map(this.#stats.snapshot().map((entry) => [entry.key, entry]));
    const limits = new Map(this.#limits.snapshot().map((entry) => [entry.key, entry]));
    const byId = new Map<string, { health: DeploymentHealth; models: string[] }>();
    for (const model of table.all()) {
      for (const deployment of model.deployments) {
        const existing = byId.get(deployment.id);
        if (existing) {
          existing.models.push(model.name);
          continue;
        }
        const stat = stats.get(deployment.id);
        const models = [model.name];
        byId.set(deployment.id, {
          models,
          health: {
            id: deployment.id,
            models,
            providerId: deployment.provider.config.id,
            orgId: deployment.provider.config.orgId,
            upstreamModel: deployment.upstreamModel,
            priority: deployment.priority,
            weight: deployment.weight,
            inFlight: stat?.inFlight ?? 0,
            requests: stat?.requests ?? 0,
            failures: stat?.failures ?? 0,
            successRate: stat?.successRate ?? null,
            p50LatencyMs: stat?.p50LatencyMs ?? null,
            p95LatencyMs: stat?.p95LatencyMs ?? null,
            ewmaFirstByteMs: stat?.ewmaFirstByteMs ?? null,
            credentials: deployment.credentials.map((credential) => {
              const breaker = breakers.get(credential.key);
              const limit = limits.get(credential.key);
              return {
                credentialId: credential.credentialId,
                state: breaker?.state ?? 'closed',
                since: breaker?.since ?? null,
                reason: breaker?.reason ?? null,
                retryAt: breaker?.retryAt ?? null,
                consecutiveFailures: breaker?.consecutiveFailures ?? 0,
                upstreamLimitedUntil: limit ? limit.blockedUntil : null,
              };
            }),
          },
        });
      }
    }
    return [...byId.values()].map((entry) => entry.health);
  }

  /** Closes the breakers and their store (the Redis connections in cluster mode). */
  async close(): Promise<void> {
    await this.#breakers.close();
  }
}
