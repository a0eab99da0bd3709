import { parseDecimalToMicros } from '../lib/money.ts';
import type {
  BreakerConfig,
  DeploymentConfig,
  FallbackConfig,
  ModelConfig,
  ModelPricing,
  ProviderConfig,
  RetryPolicy,
  RoutingConfig,
  UpstreamTimeouts,
} from './config.ts';
import type { BreakerFile, FallbacksFile, ModelFile, PricingFile, RetryFile, TimeoutsFile } from './file-schema.ts';

/**
 * The model registry's shared rules: the YAML loader and the run-time registry (`modules/registry`) both turn their
 * snake_case input into the same `ProviderConfig`/`ModelConfig` here and check the merged result with
 * `findRegistryProblems`, so a rule holds the same way whether a model comes from the file or from `/api/v1`.
 */

/** A problem in a registry entry, naming where it is (`models[2].fallbacks.unavailable[0]`). */
export interface RegistryProblem {
  readonly path: string;
  readonly message: string;
  /** `conflict`: the entry is valid but clashes with what exists (a name taken, a model left with no deployment). */
  readonly kind: 'invalid' | 'conflict';
}

/** Thrown by conversions when a value cannot be read (a price with seven decimals). */
export class RegistryValueError extends Error {
  readonly path: string;
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'RegistryValueError';
    this.path = path;
    this.detail = detail;
  }
}

export const defaultTimeouts: UpstreamTimeouts = Object.freeze({
  connectMs: 10_000,
  firstByteMs: 600_000,
  totalMs: 1_800_000,
  streamIdleMs: 600_000,
});

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  backoffBaseMs: 50,
  backoffMaxMs: 2000,
  deadlineMs: 900_000,
  budgetRatio: 0.2,
  budgetMinPerSecond: 10,
});

export const defaultBreaker: BreakerConfig = Object.freeze({
  consecutiveFailures: 5,
  failureRate: 0.5,
  windowMs: 30_000,
  minimumRequests: 20,
  openMs: 30_000,
  halfOpenProbes: 1,
});

export const noFallbacks: FallbackConfig = Object.freeze({
  contextLength: undefined,
  contentPolicy: undefined,
  unavailable: Object.freeze([]),
});

/**
 * A provider's timeouts: explicit `timeouts` first, then the older single `timeout_ms` (which bounded the wait for the
 * first byte and every silence in a stream), then the defaults.
 */
export function toTimeouts(file: TimeoutsFile | undefined, base: UpstreamTimeouts): UpstreamTimeouts {
  return {
    connectMs: file?.connect_ms ?? base.connectMs,
    firstByteMs: file?.first_byte_ms ?? base.firstByteMs,
    totalMs: file?.total_ms ?? base.totalMs,
    streamIdleMs: file?.stream_idle_ms ?? base.streamIdleMs,
  };
}

/** Only the timeouts a deployment sets; the rest come from its provider. */
export function toTimeoutOverrides(file: TimeoutsFile | undefined): Partial<UpstreamTimeouts> {
  const overrides: { -readonly [K in keyof UpstreamTimeouts]?: number } = {};
  if (file?.connect_ms !== undefined) overrides.connectMs = file.connect_ms;
  if (file?.first_byte_ms !== undefined) overrides.firstByteMs = file.first_byte_ms;
  if (file?.total_ms !== undefined) overrides.totalMs = file.total_ms;
  if (file?.stream_idle_ms !== undefined) overrides.streamIdleMs = file.stream_idle_ms;
  return overrides;
}

/** Prices in USD (decimal strings) to integer micro-units; cache reads default to the input price, writes to it too. */
export function toPricing(file: PricingFile | undefined, path: string): ModelPricing {
  const price = (field: keyof PricingFile): number | undefined => {
    const value = file?.[field];
    if (value === undefined) return undefined;
    const micros = parseDecimalToMicros(value);
    if (micros === undefined) {
      throw new RegistryValueError(`${path}.${field}`, 'must be a decimal with at most 6 fractional digits');
    }
    return micros;
  };
  const inputPerMillion = price('input') ?? 0;
  const priced = file !== undefined && Object.values(file).some((value) => value !== undefined);
  return {
    inputPerMillion,
    outputPerMillion: price('output') ?? 0,
    cachedInputPerMillion: price('cached_input') ?? inputPerMillion,
    cacheWritePerMillion: price('cache_write') ?? inputPerMillion,
    perRequest: price('per_request') ?? 0,
    priced,
  };
}

export function toRetryPolicy(file: RetryFile | undefined, base: RetryPolicy): RetryPolicy {
  return {
    maxAttempts: file?.max_attempts ?? base.maxAttempts,
    backoffBaseMs: file?.backoff_base_ms ?? base.backoffBaseMs,
    backoffMaxMs: file?.backoff_max_ms ?? base.backoffMaxMs,
    deadlineMs: file?.deadline_ms ?? base.deadlineMs,
    budgetRatio: file?.budget_ratio ?? base.budgetRatio,
    budgetMinPerSecond: file?.budget_min_per_second ?? base.budgetMinPerSecond,
  };
}

export function toFallbacks(file: FallbacksFile | undefined): FallbackConfig {
  if (!file) return noFallbacks;
  return {
    contextLength: file.context_length,
    contentPolicy: file.content_policy,
    unavailable: file.unavailable ?? [],
  };
}

export function toBreaker(file: BreakerFile | undefined): BreakerConfig {
  return {
    consecutiveFailures: file?.consecutive_failures ?? defaultBreaker.consecutiveFailures,
    failureRate: file?.failure_rate ?? defaultBreaker.failureRate,
    windowMs: file?.window_ms ?? defaultBreaker.windowMs,
    minimumRequests: file?.minimum_requests ?? defaultBreaker.minimumRequests,
    openMs: file?.open_ms ?? defaultBreaker.openMs,
    halfOpenProbes: file?.half_open_probes ?? defaultBreaker.halfOpenProbes,
  };
}

export interface ModelOwnership {
  readonly orgId: string | null;
  readonly source: ModelConfig['source'];
}

/** A model entry (YAML file or API body, same snake_case shape) to its runtime configuration. */
export function toModelConfig(
  model: ModelFile,
  path: string,
  defaults: Pick<RoutingConfig, 'retry'>,
  ownership: ModelOwnership,
): ModelConfig {
  const pricing = toPricing(model.pricing, `${path}.pricing`);
  const deployments: DeploymentConfig[] = model.deployments.map((deployment, index) => ({
    providerId: deployment.provider,
    upstreamModel: deployment.model,
    weight: deployment.weight ?? 1,
    priority: deployment.priority ?? 1,
    pricing:
      deployment.pricing === undefined
        ? undefined
        : toPricing(deployment.pricing, `${path}.deployments[${index}].pricing`),
    timeouts: toTimeoutOverrides(deployment.timeouts),
  }));
  return {
    name: model.name,
    kind: model.kind ?? 'chat',
    aliases: model.aliases ?? [],
    pricing,
    deployments,
    strategy: model.strategy ?? 'weighted',
    retry: toRetryPolicy(model.retry, defaults.retry),
    fallbacks: toFallbacks(model.fallbacks),
    orgId: ownership.orgId,
    source: ownership.source,
  };
}

/**
 * Checks a whole registry (file and database entries together; platform and organization entries together) and
 * returns every problem, with paths from `pathOf`. Rules:
 * - names and aliases are unique among platform models, and among one organization's models;
 * - a deployment names a provider its model may use (a platform one, or one of the model's own organization);
 * - a model's weights do not sum to zero within any tier it has;
 * - fallback targets exist, are visible to the model's owner, are of the same kind, and form no cycle.
 */
export function findRegistryProblems(
  providers: readonly ProviderConfig[],
  models: readonly ModelConfig[],
  pathOf: (model: ModelConfig, index: number) => string = (_model, index) => `models[${index}]`,
): RegistryProblem[] {
  const problems: RegistryProblem[] = [];
  const providerKey = (orgId: string | null, id: string): string => `${orgId ?? ''}\u0000${id}`;
  const providerKeys = new Set(providers.map((provider) => providerKey(provider.orgId, provider.id)));
  const byScopeName = new Map<string, ModelConfig>();
  const nameKey = (orgId: string | null, name: string): string => `${orgId ?? ''}\u0000${name}`;

  models.forEach((model, index) => {
    const at = pathOf(model, index);
    for (const name of [model.name, ...model.aliases]) {
      const key = nameKey(model.orgId, name);
      const previous = byScopeName.get(key);
      if (previous && previous !== model) {
        problems.push({
          path: `${at}.name`,
          message: `"${name}" is already used by ${previous.name}`,
          kind: 'conflict',
        });
      } else {
        byScopeName.set(key, model);
      }
    }
    if (model.deployments.length === 0) {
      problems.push({ path: `${at}.deployments`, message: 'a model needs at least one deployment', kind: 'conflict' });
    }
    model.deployments.forEach((deployment, deploymentIndex) => {
      const visible =
        providerKeys.has(providerKey(null, deployment.providerId)) ||
        (model.orgId !== null && providerKeys.has(providerKey(model.orgId, deployment.providerId)));
      if (!visible) {
        problems.push({
          path: `${at}.deployments[${deploymentIndex}].provider`,
          message: `unknown provider "${deployment.providerId}"`,
          kind: 'invalid',
        });
      }
    });
    const weightByTier = new Map<number, number>();
    for (const deployment of model.deployments) {
      weightByTier.set(deployment.priority, (weightByTier.get(deployment.priority) ?? 0) + deployment.weight);
    }
    for (const [tier, weight] of weightByTier) {
      if (weight === 0) {
        problems.push({
          path: `${at}.deployments`,
          message: `the weights of priority tier ${tier} sum to zero, so it could take no traffic`,
          kind: 'invalid',
        });
      }
    }
  });

  // Fallback targets resolve as a request would: the owner's own model first, then the platform's.
  const resolveTarget = (owner: ModelConfig, name: string): ModelConfig | undefined =>
    (owner.orgId === null ? undefined : byScopeName.get(nameKey(owner.orgId, name))) ??
    byScopeName.get(nameKey(null, name));
  const edges = new Map<ModelConfig, ModelConfig[]>();
  models.forEach((model, index) => {
    const at = `${pathOf(model, index)}.fallbacks`;
    const targets: Array<[string, string]> = [];
    if (model.fallbacks.contextLength !== undefined)
      targets.push([`${at}.context_length`, model.fallbacks.contextLength]);
    if (model.fallbacks.contentPolicy !== undefined)
      targets.push([`${at}.content_policy`, model.fallbacks.contentPolicy]);
    model.fallbacks.unavailable.forEach((name, position) => targets.push([`${at}.unavailable[${position}]`, name]));
    const next: ModelConfig[] = [];
    for (const [path, name] of targets) {
      const target = resolveTarget(model, name);
      if (!target) {
        problems.push({ path, message: `unknown model "${name}"`, kind: 'invalid' });
      } else if (target.kind !== model.kind) {
        problems.push({
          path,
          message: `"${name}" is a ${target.kind} model, not a ${model.kind} one`,
          kind: 'invalid',
        });
      } else if (target === model) {
        problems.push({ path, message: `a model cannot fall back to itself`, kind: 'invalid' });
      } else {
        next.push(target);
      }
    }
    edges.set(model, next);
  });
  const cycle = findCycle(models, edges);
  if (cycle) {
    const index = models.indexOf(cycle[0] as ModelConfig);
    problems.push({
      path: `${pathOf(cycle[0] as ModelConfig, index)}.fallbacks`,
      message: `fallbacks form a cycle: ${cycle.map((model) => model.name).join(' → ')}`,
      kind: 'invalid',
    });
  }
  return problems;
}

/** The first cycle in the fallback graph, as the models along it with the first repeated at the end. */
function findCycle(
  models: readonly ModelConfig[],
  edges: ReadonlyMap<ModelConfig, readonly ModelConfig[]>,
): ModelConfig[] | undefined {
  const state = new Map<ModelConfig, 'visiting' | 'done'>();
  const stack: ModelConfig[] = [];
  const visit = (model: ModelConfig): ModelConfig[] | undefined => {
    const seen = state.get(model);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(model)), model];
    state.set(model, 'visiting');
    stack.push(model);
    for (const next of edges.get(model) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(model, 'done');
    return undefined;
  };
  for (const model of models) {
    const found = visit(model);
    if (found) return found;
  }
  return undefined;
}
