import { performance } from 'node:perf_hooks';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { AppError, isAppError } from '../../errors/app-error.ts';
import type { CatalogModel, Deployment, DeploymentCredential, OrgRoutingPolicy } from '../model-catalog.ts';
import { isDeploymentAllowed } from '../model-catalog.ts';
import { backoffDelayMs } from './backoff.ts';
import type { BreakerPermit, CircuitBreakers } from './circuit-breaker.ts';
import type { DeploymentStats } from './deployment-stats.ts';
import { SlidingWindow } from './sliding-window.ts';
import type { UpstreamLimits } from './upstream-limits.ts';

/** The span a model's retry budget is counted over. */
export const retryBudgetWindowMs = 10_000;
const requestsLane = 0;
const retriesLane = 1;

/** Something routing wants an operator to know: a credential the upstream refused, so it was taken out of rotation. */
export interface RoutingEvent {
  readonly kind: 'credential_disabled';
  readonly deploymentId: string;
  readonly credentialKey: string;
  readonly reason: string;
}

export interface RouterOptions {
  readonly breakers: CircuitBreakers;
  readonly stats: DeploymentStats;
  readonly limits: UpstreamLimits;
  /** False: upstream rate-limit headers are not acted on (a credential is tried even while its upstream says wait). */
  readonly respectUpstreamLimits?: boolean;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Waits between attempts; rejects when the signal aborts. Injected by tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly notify?: (event: RoutingEvent) => void;
}

/** One try at one deployment with one of its credentials. */
export interface Attempt {
  readonly model: CatalogModel;
  readonly deployment: Deployment;
  readonly credential: DeploymentCredential;
  /** 1 for the first try. */
  readonly number: number;
  /** Aborted when the client goes away or the deployment's total timeout passes. */
  readonly signal: AbortSignal;
}

export interface RouteInput {
  readonly model: CatalogModel;
  readonly policy: OrgRoutingPolicy;
  /** The client's signal: aborted when it disconnects. */
  readonly signal: AbortSignal;
  /** Resolves a fallback model by name for this caller (its organization, its key's allowlist), or undefined. */
  readonly resolveFallback: (name: string) => CatalogModel | undefined;
  /** Called before each attempt, e.g. so the usage record names the deployment that answers. */
  readonly onAttempt?: (attempt: Attempt) => void;
}

export interface Routed<T> {
  readonly value: T;
  readonly attempt: Attempt;
  /** Attempts made in all, this one included. */
  readonly attempts: number;
  /**
   * Time spent waiting on upstreams and between attempts, in ms (high resolution, whatever clock was injected): the
   * rest of a request's time is AI Hub's own.
   */
  readonly upstreamMs: number;
  /** Ends the answering attempt's total timeout; call once its body is fully read (streams) or right away. */
  done(): void;
}

type FailureClass = 'retry' | 'rate_limited' | 'credential' | 'context_length' | 'content_policy' | 'final';

const contextLengthPattern =
  /context[_ ]length|maximum context|too many tokens|prompt is too long|exceeds the (maximum|context)|input is too long/i;
const contentPolicyPattern = /content[_ ]policy|content[_ ]filter|safety|responsible ?ai/i;

/** A deadline that fired, told apart from a client that went away. */
class AttemptDeadline extends Error {
  constructor() {
    super('the deployment did not finish in time');
    this.name = 'AttemptDeadline';
  }
}

/**
 * Picks deployments and retries: the lowest priority tier with an available deployment first, a strategy within the
 * tier, a credential by weight among those whose breaker is closed and whose upstream limit is not exhausted. Failures
 * the client did not cause (connect errors, resets, timeouts, 429, 5xx, a refused credential) move on to another
 * deployment, then back off and retry, within the model's attempt budget and deadline; context-length and
 * content-policy refusals go to the model's configured fallback; every deployment unavailable goes to the
 * `unavailable` fallbacks, and then to a 503 that lists the attempts.
 */
export class Router {
  readonly #breakers: CircuitBreakers;
  readonly #stats: DeploymentStats;
  readonly #limits: UpstreamLimits;
  readonly #respectLimits: boolean;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #notify: (event: RoutingEvent) => void;
  /** Requests and retries per model over the budget window; a registry reload starts new models afresh. */
  readonly #budgets = new WeakMap<CatalogModel, SlidingWindow>();

  constructor(options: RouterOptions) {
    this.#breakers = options.breakers;
    this.#stats = options.stats;
    this.#limits = options.limits;
    this.#respectLimits = options.respectUpstreamLimits ?? true;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
    this.#notify = options.notify ?? (() => {});
  }

  /** Reads an upstream answer's rate-limit headers for its credential (called for every upstream response). */
  observeResponse(attempt: Attempt, headers: Record<string, string | string[] | undefined>, status: number): void {
    if (this.#respectLimits) this.#limits.observe(attempt.credential.key, headers, status);
  }

  async route<T>(input: RouteInput, run: (attempt: Attempt) => Promise<T>): Promise<Routed<T>> {
    const startedAt = this.#now();
    let model = input.model;
    // The requested model's deadline bounds the whole request, fallbacks included.
    const deadline = startedAt + model.retry.deadlineMs;
    const budget = this.#budgetOf(model);
    budget.add(startedAt, requestsLane);
    // Allocated only once an attempt fails: the common request succeeds at once and needs none of them.
    let tried: Set<string> | undefined;
    let fallbacksUsed: Set<string> | undefined;
    let failures: string[] | undefined;
    let lastError: unknown;
    let lastRetryAfterSeconds: number | undefined;
    let upstreamMs = 0;
    let number = 0;

    const switchModel = (name: string | undefined): boolean => {
      fallbacksUsed ??= new Set([input.model.name]);
      if (name === undefined || fallbacksUsed.has(name)) return false;
      const next = input.resolveFallback(name);
      if (!next || next.kind !== model.kind) return false;
      fallbacksUsed.add(name);
      model = next;
      tried = undefined;
      return true;
    };

    for (;;) {
      const maxAttempts = model.retry.maxAttempts;
      let pick = number < maxAttempts ? this.#pick(model, input.policy, tried) : undefined;
      if (!pick && number < maxAttempts) {
        // Every available deployment was tried: the `unavailable` fallbacks first, then the same deployments again
        // (after a backoff) while the budget lasts.
        if (this.#switchToUnavailableFallback(model, switchModel)) continue;
        if (tried !== undefined) pick = this.#pick(model, input.policy, undefined);
      }
      if (!pick) {
        if (number === 0) throw this.#nothingAvailable(model, input.policy);
        throw this.#exhausted(input.model, model, failures ?? [], lastError, lastRetryAfterSeconds, number);
      }
      const { deployment, credential, permit } = pick;
      if (number > 0 && !this.#spendRetry(input.model, budget)) {
        this.#breakers.release(credential.key, permit, 'abandoned');
        throw this.#exhausted(input.model, model, failures ?? [], lastError, lastRetryAfterSeconds, number);
      }
      if (number > 0 && tried?.has(deployment.id) === true) {
        const wait = backoffDelayMs(number, model.retry, lastRetryAfterSeconds, this.#random);
        if (this.#now() + wait >= deadline) {
          this.#breakers.release(credential.key, permit, 'abandoned');
          throw this.#exhausted(input.model, model, failures ?? [], lastError, lastRetryAfterSeconds, number);
        }
        const sleptFrom = performance.now();
        try {
          await this.#sleep(wait, input.signal);
        } catch (error) {
          this.#breakers.release(credential.key, permit, 'abandoned');
          throw error;
        }
        upstreamMs += performance.now() - sleptFrom;
      }
      number += 1;
      const controller = new AbortController();
      const attempt: Attempt = { model, deployment, credential, number, signal: controller.signal };
      const onClientAbort = (): void => controller.abort(input.signal.reason);
      if (input.signal.aborted) controller.abort(input.signal.reason);
      else input.signal.addEventListener('abort', onClientAbort, { once: true });
      const totalMs = Math.min(deployment.timeouts.totalMs, Math.max(1, deadline - this.#now()));
      const timer = setTimeout(() => controller.abort(new AttemptDeadline()), totalMs);
      const done = (): void => {
        clearTimeout(timer);
        input.signal.removeEventListener('abort', onClientAbort);
      };
      input.onAttempt?.(attempt);
      this.#stats.begin(deployment.id);
      const measuredFrom = performance.now();
      try {
        const value = await run(attempt);
        const elapsed = performance.now() - measuredFrom;
        upstreamMs += elapsed;
        this.#stats.end(deployment.id, { ok: true, firstByteMs: elapsed, latencyMs: elapsed });
        this.#breakers.release(credential.key, permit, 'success');
        return { value, attempt, attempts: number, upstreamMs, done };
      } catch (caught) {
        done();
        const elapsed = performance.now() - measuredFrom;
        upstreamMs += elapsed;
        (tried ??= new Set()).add(deployment.id);
        const error =
          controller.signal.reason instanceof AttemptDeadline && !input.signal.aborted
            ? new AppError('upstream_timeout', 'the upstream provider did not finish in time', {
                isRetryable: true,
                cause: caught,
              })
            : caught;
        this.#stats.end(deployment.id, { ok: false, latencyMs: elapsed });
        if (input.signal.aborted) {
          // The client left: this says nothing about the deployment.
          this.#breakers.release(credential.key, permit, 'abandoned');
          throw error;
        }
        const failure = classifyFailure(error);
        lastError = error;
        lastRetryAfterSeconds = isAppError(error) ? error.retryAfterSeconds : undefined;
        (failures ??= []).push(`${deployment.id}: ${isAppError(error) ? error.wireCode : 'failed'}`);
        if (failure === 'rate_limited') {
          // A 429 says nothing about the deployment's health; its credential waits for the upstream's reset, which
          // `observeResponse` read from the answer's headers.
          this.#breakers.release(credential.key, permit, 'abandoned');
        } else if (failure === 'credential') {
          this.#breakers.release(credential.key, permit, 'failure');
          const reason = `the upstream refused the credential (${isAppError(error) ? error.wireCode : 'error'})`;
          this.#breakers.disable(credential.key, reason);
          this.#notify({
            kind: 'credential_disabled',
            deploymentId: deployment.id,
            credentialKey: credential.key,
            reason,
          });
        } else if (failure === 'retry') {
          this.#breakers.release(credential.key, permit, 'failure');
        } else {
          this.#breakers.release(credential.key, permit, 'success');
        }
        if (failure === 'final') throw error;
        if (failure === 'context_length' || failure === 'content_policy') {
          const target = failure === 'context_length' ? model.fallbacks.contextLength : model.fallbacks.contentPolicy;
          if (number < model.retry.maxAttempts && switchModel(target)) continue;
          throw error;
        }
        if (this.#now() >= deadline) {
          throw this.#exhausted(input.model, model, failures, lastError, lastRetryAfterSeconds, number);
        }
      }
    }
  }

  #budgetOf(model: CatalogModel): SlidingWindow {
    let budget = this.#budgets.get(model);
    if (!budget) {
      budget = new SlidingWindow(retryBudgetWindowMs, 2);
      this.#budgets.set(model, budget);
    }
    return budget;
  }

  /** Takes one retry from the requested model's budget; false when it is spent. */
  #spendRetry(model: CatalogModel, budget: SlidingWindow): boolean {
    const now = this.#now();
    const policy = model.retry;
    const allowed = Math.max(
      policy.budgetRatio * budget.total(now, requestsLane),
      (policy.budgetMinPerSecond * retryBudgetWindowMs) / 1000,
    );
    if (budget.total(now, retriesLane) >= allowed) return false;
    budget.add(now, retriesLane);
    return true;
  }

  #switchToUnavailableFallback(model: CatalogModel, switchModel: (name: string) => boolean): boolean {
    for (const name of model.fallbacks.unavailable) if (switchModel(name)) return true;
    return false;
  }

  /** The next deployment and credential to try, with the breaker's permit taken; undefined when none is available. */
  #pick(
    model: CatalogModel,
    policy: OrgRoutingPolicy,
    tried: ReadonlySet<string> | undefined,
  ): { deployment: Deployment; credential: DeploymentCredential; permit: BreakerPermit } | undefined {
    const now = this.#now();
    for (const tier of model.tiers) {
      let candidates: Deployment[] | undefined;
      for (const deployment of tier) {
        if (tried?.has(deployment.id) || !isDeploymentAllowed(deployment, policy)) continue;
        if (!this.#hasUsableCredential(deployment, now)) continue;
        (candidates ??= []).push(deployment);
      }
      while (candidates && candidates.length > 0) {
        const deployment = this.#choose(model, candidates);
        const credential = this.#chooseCredential(deployment, now);
        const permit = credential && this.#breakers.tryAcquire(credential.key);
        if (credential && permit) return { deployment, credential, permit };
        // Lost a half-open probe slot to another request: this deployment is out for now.
        candidates.splice(candidates.indexOf(deployment), 1);
      }
    }
    return undefined;
  }

  #hasUsableCredential(deployment: Deployment, now: number): boolean {
    for (const credential of deployment.credentials) {
      if (credential.weight > 0 && this.#isUsable(credential, now)) return true;
    }
    return false;
  }

  #isUsable(credential: DeploymentCredential, now: number): boolean {
    return (
      this.#breakers.isAvailable(credential.key) &&
      (!this.#respectLimits || this.#limits.blockedUntil(credential.key) <= now)
    );
  }

  #choose(model: CatalogModel, candidates: readonly Deployment[]): Deployment {
    if (candidates.length === 1) return candidates[0] as Deployment;
    switch (model.strategy) {
      case 'least-in-flight':
        return this.#lowest(candidates, (deployment) => this.#stats.inFlight(deployment.id));
      case 'lowest-latency':
        // A deployment without a sample yet scores 0, so it gets tried and measured.
        return this.#lowest(candidates, (deployment) => this.#stats.ewmaFirstByteMs(deployment.id) ?? 0);
      case 'lowest-cost':
        return this.#lowest(candidates, (deployment) => priceScore(deployment));
      case 'weighted':
        return weightedChoice(candidates, this.#random);
    }
  }

  /** The candidate with the lowest score; ties are broken by weight, so equal deployments share the traffic. */
  #lowest(candidates: readonly Deployment[], score: (deployment: Deployment) => number): Deployment {
    let best: Deployment[] = [];
    let bestScore = Number.POSITIVE_INFINITY;
    for (const deployment of candidates) {
      const value = score(deployment);
      if (value < bestScore) {
        bestScore = value;
        best = [deployment];
      } else if (value === bestScore) {
        best.push(deployment);
      }
    }
    return best.length === 1 ? (best[0] as Deployment) : weightedChoice(best, this.#random);
  }

  #chooseCredential(deployment: Deployment, now: number): DeploymentCredential | undefined {
    const credentials = deployment.credentials;
    if (credentials.length === 1) {
      const only = credentials[0] as DeploymentCredential;
      return this.#isUsable(only, now) ? only : undefined;
    }
    let total = 0;
    for (const credential of credentials) if (this.#isUsable(credential, now)) total += credential.weight;
    if (total === 0) return undefined;
    let remaining = this.#random() * total;
    let last: DeploymentCredential | undefined;
    for (const credential of credentials) {
      if (!this.#isUsable(credential, now)) continue;
      last = credential;
      remaining -= credential.weight;
      if (remaining < 0) return credential;
    }
    return last;
  }

  /**
   * Before any attempt, nothing could be tried: a 429 when upstream rate limits hold every deployment back (with the
   * wait until the first reset), else a 503 while breakers are open.
   */
  #nothingAvailable(model: CatalogModel, policy: OrgRoutingPolicy): AppError {
    const now = this.#now();
    let limitedUntil = Number.POSITIVE_INFINITY;
    let breakerOpen = false;
    for (const deployment of model.deployments) {
      if (!isDeploymentAllowed(deployment, policy)) continue;
      for (const credential of deployment.credentials) {
        if (!this.#breakers.isAvailable(credential.key)) breakerOpen = true;
        else limitedUntil = Math.min(limitedUntil, this.#limits.blockedUntil(credential.key));
      }
    }
    if (Number.isFinite(limitedUntil) && limitedUntil > now) {
      return new AppError(
        'upstream_rate_limited',
        `every deployment of the model "${model.name}" is at its upstream rate limit`,
        { isRetryable: true, retryAfterSeconds: Math.max(1, Math.ceil((limitedUntil - now) / 1000)) },
      );
    }
    return new AppError(
      'upstream_unavailable',
      `no deployment of the model "${model.name}" is available${breakerOpen ? ': their circuit breakers are open after repeated failures' : ''}`,
      { isRetryable: true },
    );
  }

  #exhausted(
    requested: CatalogModel,
    model: CatalogModel,
    failures: readonly string[],
    lastError: unknown,
    retryAfterSeconds: number | undefined,
    attempts: number,
  ): Error {
    // One attempt that failed in a way the client understands (a 429 with its Retry-After): pass it on as it was.
    if (attempts === 1 && isAppError(lastError) && failures.length === 1 && model === requested) return lastError;
    const tried = failures.length > 0 ? `; attempts: ${failures.join(', ')}` : '';
    const message =
      failures.length === 0
        ? `no deployment of the model "${requested.name}" is available (all are failing or rate-limited)`
        : `every deployment tried for the model "${requested.name}" failed${tried}`;
    return new AppError('upstream_unavailable', message, {
      isRetryable: true,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      cause: lastError,
    });
  }
}

/** Weighted random choice (a zero weight takes traffic only when every candidate has zero). */
export function weightedChoice(candidates: readonly Deployment[], random: () => number): Deployment {
  let total = 0;
  for (const deployment of candidates) total += deployment.weight;
  if (total === 0) return candidates[Math.floor(random() * candidates.length)] as Deployment;
  let remaining = random() * total;
  for (const deployment of candidates) {
    remaining -= deployment.weight;
    if (remaining < 0) return deployment;
  }
  return candidates[candidates.length - 1] as Deployment;
}

/** What a typical request (3 input tokens per output token) costs on a deployment, per million tokens. */
function priceScore(deployment: Deployment): number {
  const pricing = deployment.pricing;
  return pricing.inputPerMillion * 3 + pricing.outputPerMillion + pricing.perRequest * 1000;
}

/** What a failed attempt means for the request: try elsewhere, switch model, or give the client the error. */
export function classifyFailure(error: unknown): FailureClass {
  if (!isAppError(error)) return 'final';
  const code = error.code;
  if (code === 'upstream_rate_limited') return 'rate_limited';
  if (code === 'upstream_unavailable' || code === 'upstream_timeout') return 'retry';
  if (code === 'upstream_error') {
    const status = error.upstreamStatus;
    return status === 401 || status === 403 ? 'credential' : 'retry';
  }
  if (code === 'upstream_bad_request') {
    const text = `${error.upstreamCode ?? ''} ${error.message}`;
    if (contextLengthPattern.test(text)) return 'context_length';
    if (contentPolicyPattern.test(text)) return 'content_policy';
  }
  return 'final';
}
