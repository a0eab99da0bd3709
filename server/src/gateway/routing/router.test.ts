import { describe, expect, it } from 'vitest';
import type {
  DeploymentConfig,
  ModelConfig,
  ModelPricing,
  ProviderConfig,
  RoutingStrategy,
} from '../../config/config.ts';
import { defaultBreaker, defaultRetryPolicy, defaultTimeouts, noFallbacks } from '../../config/registry-config.ts';
import { AppError, isAppError } from '../../errors/app-error.ts';
import { ModelCatalog, type CatalogModel, type OrgRoutingPolicy } from '../model-catalog.ts';
import { CircuitBreakers } from './circuit-breaker.ts';
import { DeploymentStats } from './deployment-stats.ts';
import { Router, classifyFailure, weightedChoice, type Attempt, type Routed, type RoutingEvent } from './router.ts';
import { UpstreamLimits } from './upstream-limits.ts';

const openPolicy: OrgRoutingPolicy = { allowedProviders: null, defaultModels: [] };

const price = (input: number, output = input): ModelPricing => ({
  inputPerMillion: input,
  outputPerMillion: output,
  cachedInputPerMillion: input,
  cacheWritePerMillion: input,
  perRequest: 0,
  priced: true,
});

function provider(id: string, credentials: Array<[string, number]> = [['default', 1]]): ProviderConfig {
  return {
    id,
    type: 'openai',
    preset: undefined,
    baseUrl: `https://${id}.example/v1`,
    credentials: credentials.map(([credentialId, weight]) => ({
      id: credentialId,
      apiKey: `sk-${id}-${credentialId}`,
      weight,
    })),
    headers: {},
    options: {},
    maxConnections: 8,
    timeouts: defaultTimeouts,
    orgId: null,
    source: 'file',
  };
}

function deployment(providerId: string, extra: Partial<DeploymentConfig> = {}): DeploymentConfig {
  return { providerId, upstreamModel: 'm', weight: 1, priority: 1, pricing: undefined, timeouts: {}, ...extra };
}

function model(name: string, deployments: DeploymentConfig[], extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name,
    kind: 'chat',
    aliases: [],
    pricing: price(1),
    deployments,
    strategy: 'weighted',
    retry: { ...defaultRetryPolicy, backoffBaseMs: 10, backoffMaxMs: 100, deadlineMs: 60_000 },
    fallbacks: noFallbacks,
    orgId: null,
    source: 'file',
    ...extra,
  };
}

/** A seeded generator, so weighted choices are repeatable. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Harness {
  router: Router;
  breakers: CircuitBreakers;
  limits: UpstreamLimits;
  stats: DeploymentStats;
  events: RoutingEvent[];
  sleeps: number[];
  clock: { now: number };
  table: ModelCatalog;
  model(name: string): CatalogModel;
  route<T>(name: string, run: (attempt: Attempt) => Promise<T>, signal?: AbortSignal): Promise<Routed<T>>;
}

function harness(
  providers: ProviderConfig[],
  models: ModelConfig[],
  options: { respectUpstreamLimits?: boolean; random?: () => number } = {},
): Harness {
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const breakers = new CircuitBreakers({ ...defaultBreaker, consecutiveFailures: 3 }, { now });
  const limits = new UpstreamLimits({ now });
  const stats = new DeploymentStats({ now });
  const events: RoutingEvent[] = [];
  const sleeps: number[] = [];
  const router = new Router({
    breakers,
    stats,
    limits,
    now,
    random: options.random ?? seeded(7),
    ...(options.respectUpstreamLimits === undefined ? {} : { respectUpstreamLimits: options.respectUpstreamLimits }),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
    },
    notify: (event) => events.push(event),
  });
  const table = new ModelCatalog({ providers, models });
  const find = (name: string): CatalogModel => {
    const found = table.resolve(name);
    if (!found) throw new Error(`no model ${name}`);
    return found;
  };
  return {
    router,
    breakers,
    limits,
    stats,
    events,
    sleeps,
    clock,
    table,
    model: find,
    route: <T>(name: string, run: (attempt: Attempt) => Promise<T>, signal = new AbortController().signal) =>
      router.route<T>(
        { model: find(name), policy: openPolicy, signal, resolveFallback: (fallback) => table.resolve(fallback) },
        run,
      ),
  };
}

const upstream500 = () => new AppError('upstream_error', 'boom', { upstreamStatus: 500, isRetryable: true });

describe('Router', () => {
  it('answers from the first deployment when it works, in one attempt', async () => {
    const h = harness([provider('a')], [model('chat', [deployment('a')])]);
    const routed = await h.route('chat', async (attempt) => attempt.deployment.id);
    routed.done();
    expect(routed.value).toBe('a/m');
    expect(routed.attempts).toBe(1);
    expect(routed.attempt.credential.target.apiKey).toBe('sk-a-default');
  });

  it('spreads traffic by weight', async () => {
    const h = harness(
      [provider('a'), provider('b')],
      [model('chat', [deployment('a', { weight: 3 }), deployment('b', { weight: 1 })])],
    );
    const counts = new Map<string, number>();
    for (let index = 0; index < 4000; index += 1) {
      const routed = await h.route('chat', async (attempt) => attempt.deployment.id);
      routed.done();
      counts.set(routed.value, (counts.get(routed.value) ?? 0) + 1);
    }
    expect((counts.get('a/m') ?? 0) / 4000).toBeGreaterThan(0.71);
    expect((counts.get('a/m') ?? 0) / 4000).toBeLessThan(0.79);
  });

  it('retries another deployment after a 5xx and counts the failure against the first', async () => {
    const h = harness([provider('a'), provider('b')], [model('chat', [deployment('a'), deployment('b')])]);
    const seen: string[] = [];
    const routed = await h.route('chat', async (attempt) => {
      seen.push(attempt.deployment.id);
      if (attempt.number === 1) throw upstream500();
      return 'ok';
    });
    routed.done();
    expect(routed.attempts).toBe(2);
    expect(new Set(seen).size).toBe(2);
    expect(h.sleeps).toEqual([]); // another deployment: no need to wait
    const failed = h.breakers.snapshot().find((status) => status.key === `${seen[0]}#default`);
    expect(failed?.consecutiveFailures).toBe(1);
  });

  it('retries the same deployment after a backoff when it is the only one, within the attempt budget', async () => {
    const h = harness([provider('a')], [model('chat', [deployment('a')])]);
    let calls = 0;
    const error = await h
      .route('chat', async () => {
        calls += 1;
        throw upstream500();
      })
      .catch((caught: unknown) => caught);
    expect(calls).toBe(3);
    expect(h.sleeps).toHaveLength(2);
    for (const wait of h.sleeps) expect(wait).toBeLessThan(100);
    expect(isAppError(error) && error.code).toBe('upstream_unavailable');
    expect((error as Error).message).toContain('a/m: upstream_error:500');
    expect((error as Error).message).not.toContain('sk-');
  });

  it('never retries what the client caused', async () => {
    const h = harness([provider('a'), provider('b')], [model('chat', [deployment('a'), deployment('b')])]);
    let calls = 0;
    const error = await h
      .route('chat', async () => {
        calls += 1;
        throw new AppError('upstream_bad_request', 'messages[0].role is wrong', { upstreamStatus: 400 });
      })
      .catch((caught: unknown) => caught);
    expect(calls).toBe(1);
    expect(isAppError(error) && error.code).toBe('upstream_bad_request');
    expect(h.breakers.snapshot().every((status) => status.consecutiveFailures === 0)).toBe(true);
  });

  it('takes a credential the upstream refuses out of rotation, says so, and uses the pool’s other key', async () => {
    const h = harness(
      [
        provider('a', [
          ['k1', 1],
          ['k2', 1],
        ]),
      ],
      [model('chat', [deployment('a')])],
    );
    const keys: string[] = [];
    const routed = await h.route('chat', async (attempt) => {
      keys.push(attempt.credential.credentialId);
      if (attempt.number === 1) throw new AppError('upstream_error', 'nope', { upstreamStatus: 401 });
      return 'ok';
    });
    routed.done();
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe(keys[1]);
    expect(h.events).toEqual([expect.objectContaining({ kind: 'credential_disabled', deploymentId: 'a/m' })]);
    expect(h.breakers.isAvailable(`a/m#${keys[0]}`)).toBe(false);
    // Every later request uses the other key.
    for (let index = 0; index < 20; index += 1) {
      const next = await h.route('chat', async (attempt) => attempt.credential.credentialId);
      next.done();
      expect(next.value).toBe(keys[1]);
    }
  });

  it('uses tier 2 only while tier 1 is unavailable', async () => {
    const h = harness(
      [provider('a'), provider('b')],
      [model('chat', [deployment('a', { priority: 1 }), deployment('b', { priority: 2 })])],
    );
    for (let index = 0; index < 10; index += 1) {
      const routed = await h.route('chat', async (attempt) => attempt.deployment.id);
      routed.done();
      expect(routed.value).toBe('a/m');
    }
    // Three failures in a row open a's breaker (this harness's threshold): then b answers, in one attempt.
    for (let index = 0; index < 3; index += 1) {
      const routed = await h.route('chat', async (attempt) => {
        if (attempt.deployment.id === 'a/m') throw upstream500();
        return attempt.deployment.id;
      });
      routed.done();
      expect(routed.value).toBe('b/m');
    }
    const routed = await h.route('chat', async (attempt) => attempt.deployment.id);
    expect(routed.value).toBe('b/m');
    expect(routed.attempts).toBe(1);
    // After the open period a probe goes to tier 1 again, and its success brings the traffic back.
    h.clock.now += defaultBreaker.openMs + 1;
    const probe = await h.route('chat', async (attempt) => attempt.deployment.id);
    expect(probe.value).toBe('a/m');
    const after = await h.route('chat', async (attempt) => attempt.deployment.id);
    expect(after.value).toBe('a/m');
  });

  it('skips a credential its upstream reports out of requests until the reset, then uses it again', async () => {
    const h = harness([provider('a'), provider('b')], [model('chat', [deployment('a'), deployment('b')])], {
      random: () => 0,
    });
    const first = await h.route('chat', async (attempt) => {
      h.router.observeResponse(
        attempt,
        { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s' },
        200,
      );
      return attempt.deployment.id;
    });
    expect(first.value).toBe('a/m');
    const second = await h.route('chat', async (attempt) => attempt.deployment.id);
    expect(second.value).toBe('b/m');
    h.clock.now += 2001;
    const third = await h.route('chat', async (attempt) => attempt.deployment.id);
    expect(third.value).toBe('a/m');
  });

  it('answers 429 with the wait when every deployment is at its upstream limit, and 503 while breakers are open', async () => {
    const h = harness([provider('a')], [model('chat', [deployment('a')])]);
    const limited = await h
      .route('chat', async (attempt) => {
        h.router.observeResponse(attempt, { 'retry-after': '7' }, 429);
        throw new AppError('upstream_rate_limited', 'slow down', { upstreamStatus: 429, retryAfterSeconds: 7 });
      })
      .catch((caught: unknown) => caught);
    // One attempt that the upstream rate-limited: the client gets that 429 as it was.
    expect(isAppError(limited) && [limited.code, limited.retryAfterSeconds]).toEqual(['upstream_rate_limited', 7]);
    const next = await h.route('chat', async () => 'never').catch((caught: unknown) => caught);
    expect(isAppError(next) && next.code).toBe('upstream_rate_limited');
    expect(isAppError(next) && next.retryAfterSeconds).toBe(7);

    const ignoring = harness([provider('a')], [model('chat', [deployment('a')])], { respectUpstreamLimits: false });
    await ignoring.route('chat', async (attempt) => {
      ignoring.router.observeResponse(attempt, { 'retry-after': '7' }, 429);
      return 'ok';
    });
    expect((await ignoring.route('chat', async () => 'again')).value).toBe('again');

    const broken = harness(
      [provider('a')],
      [model('chat', [deployment('a')], { retry: { ...defaultRetryPolicy, maxAttempts: 1 } })],
    );
    for (let index = 0; index < 3; index += 1) {
      await broken.route('chat', async () => Promise.reject(upstream500())).catch(() => undefined);
    }
    const open = await broken.route('chat', async () => 'never').catch((caught: unknown) => caught);
    expect(isAppError(open) && open.code).toBe('upstream_unavailable');
    expect((open as Error).message).toContain('circuit breakers are open');
  });

  it('falls back by failure class: a larger-context model, a content-policy model, then the unavailable chain', async () => {
    const h = harness(
      [provider('a'), provider('b'), provider('c')],
      [
        model('small', [deployment('a')], {
          fallbacks: { contextLength: 'large', contentPolicy: 'lenient', unavailable: ['spare'] },
        }),
        model('large', [deployment('b')]),
        model('lenient', [deployment('b')]),
        model('spare', [deployment('c')]),
      ],
    );
    const contextLength = await h.route('small', async (attempt) => {
      if (attempt.model.name === 'small') {
        throw new AppError('upstream_bad_request', 'too long', {
          upstreamStatus: 400,
          upstreamCode: 'context_length_exceeded',
        });
      }
      return attempt.model.name;
    });
    expect([contextLength.value, contextLength.attempts]).toEqual(['large', 2]);

    const policy = await h.route('small', async (attempt) => {
      if (attempt.model.name === 'small') {
        throw new AppError('upstream_bad_request', 'refused by the content filter', { upstreamStatus: 400 });
      }
      return attempt.model.name;
    });
    expect(policy.value).toBe('lenient');

    const unavailable = await h.route('small', async (attempt) => {
      if (attempt.model.name === 'small') throw upstream500();
      return attempt.model.name;
    });
    expect(unavailable.value).toBe('spare');
    expect(unavailable.attempts).toBe(2); // small's only deployment once, then spare rather than waiting on it
  });

  it('does not fall back to a model the caller may not use', async () => {
    const h = harness(
      [provider('a'), provider('b')],
      [
        model('small', [deployment('a')], { fallbacks: { ...noFallbacks, unavailable: ['hidden'] } }),
        model('hidden', [deployment('b')]),
      ],
    );
    const error = await h.router
      .route(
        {
          model: h.model('small'),
          policy: openPolicy,
          signal: new AbortController().signal,
          resolveFallback: () => undefined,
        },
        async () => Promise.reject(upstream500()),
      )
      .catch((caught: unknown) => caught);
    expect(isAppError(error) && error.code).toBe('upstream_unavailable');
  });

  it('keeps deployments of providers the organization does not allow out of routing', async () => {
    const h = harness([provider('a'), provider('b')], [model('chat', [deployment('a'), deployment('b')])]);
    const policy: OrgRoutingPolicy = { allowedProviders: new Set(['b']), defaultModels: [] };
    for (let index = 0; index < 20; index += 1) {
      const routed = await h.router.route(
        { model: h.model('chat'), policy, signal: new AbortController().signal, resolveFallback: () => undefined },
        async (attempt) => attempt.deployment.id,
      );
      expect(routed.value).toBe('b/m');
    }
  });

  it.each<[RoutingStrategy, string]>([
    ['least-in-flight', 'b/m'],
    ['lowest-latency', 'b/m'],
    ['lowest-cost', 'b/m'],
  ])('%s picks the better deployment', async (strategy, expected) => {
    const h = harness(
      [provider('a'), provider('b')],
      [model('chat', [deployment('a', { pricing: price(5) }), deployment('b', { pricing: price(1) })], { strategy })],
    );
    // a is busier and slower than b.
    h.stats.begin('a/m');
    h.stats.begin('a/m');
    h.stats.end('a/m', { ok: true, firstByteMs: 900, latencyMs: 900 });
    h.stats.begin('b/m');
    h.stats.end('b/m', { ok: true, firstByteMs: 100, latencyMs: 100 });
    for (let index = 0; index < 10; index += 1) {
      const routed = await h.route('chat', async (attempt) => attempt.deployment.id);
      routed.done();
      expect(routed.value).toBe(expected);
    }
  });

  it('gives up when a backoff would pass the deadline', async () => {
    const h = harness(
      [provider('a')],
      [
        model('chat', [deployment('a')], {
          retry: { ...defaultRetryPolicy, maxAttempts: 5, backoffBaseMs: 1000, backoffMaxMs: 1000, deadlineMs: 1200 },
        }),
      ],
      { random: () => 0.99 },
    );
    let calls = 0;
    const error = await h
      .route('chat', async () => {
        calls += 1;
        h.clock.now += 400;
        throw upstream500();
      })
      .catch((caught: unknown) => caught);
    // One attempt made: its own error goes to the client as it was.
    expect(isAppError(error) && error.wireCode).toBe('upstream_error:500');
    expect(calls).toBe(1);
  });

  it('stops at once when the client goes away, without judging the deployment', async () => {
    const h = harness([provider('a'), provider('b')], [model('chat', [deployment('a'), deployment('b')])]);
    const controller = new AbortController();
    let calls = 0;
    const error = await h
      .route(
        'chat',
        async (attempt) => {
          calls += 1;
          controller.abort();
          expect(attempt.signal.aborted).toBe(true);
          throw new Error('aborted');
        },
        controller.signal,
      )
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('aborted');
    expect(calls).toBe(1);
    expect(h.breakers.snapshot().every((status) => status.consecutiveFailures === 0)).toBe(true);
  });

  it('turns a deployment’s total timeout into a retryable upstream timeout and tries elsewhere', async () => {
    const slow = { ...provider('a'), timeouts: { ...defaultTimeouts, totalMs: 5 } };
    const h = harness(
      [slow, provider('b')],
      [model('chat', [deployment('a', { priority: 1 }), deployment('b', { priority: 2 })])],
    );
    const routed = await h.route('chat', async (attempt) => {
      if (attempt.deployment.id === 'a/m') {
        await new Promise((_resolve, reject) =>
          attempt.signal.addEventListener('abort', () => reject(new Error('aborted by the deadline'))),
        );
      }
      return attempt.deployment.id;
    });
    routed.done();
    expect(routed.value).toBe('b/m');
    expect(routed.attempts).toBe(2);
  });
});

describe('the retry budget', () => {
  it('stops retrying once retries pass their share of the model’s traffic, and starts again as the window moves', async () => {
    const h = harness(
      [provider('a'), provider('b')],
      [
        model('chat', [deployment('a', { priority: 1 }), deployment('b', { priority: 2 })], {
          // Five retries per ten seconds, whatever the traffic.
          retry: { ...defaultRetryPolicy, budgetRatio: 0, budgetMinPerSecond: 0.5 },
        }),
      ],
    );
    // a fails every time (its breaker never opens within the test: three failures open it in this harness, so
    // it is re-enabled before each request).
    const outcomes: string[] = [];
    const send = async (): Promise<void> => {
      h.breakers.enable('a/m#default');
      const result = await h
        .route('chat', async (attempt) => {
          if (attempt.deployment.id === 'a/m') throw upstream500();
          return attempt.deployment.id;
        })
        .catch((error: unknown) => (isAppError(error) ? error.wireCode : 'other'));
      outcomes.push(typeof result === 'string' ? result : result.value);
    };
    for (let index = 0; index < 8; index += 1) await send();
    expect(outcomes).toEqual([...Array<string>(5).fill('b/m'), ...Array<string>(3).fill('upstream_error:500')]);
    h.clock.now += 10_001;
    await send();
    expect(outcomes.at(-1)).toBe('b/m');
  });

  it('allows retries in proportion to the traffic', async () => {
    const h = harness(
      [provider('a'), provider('b')],
      [
        model('chat', [deployment('a', { priority: 1 }), deployment('b', { priority: 2 })], {
          retry: { ...defaultRetryPolicy, budgetRatio: 0.5, budgetMinPerSecond: 0 },
        }),
      ],
    );
    let failNext = false;
    let retried = 0;
    let refused = 0;
    for (let index = 0; index < 40; index += 1) {
      // Every other request fails at a: half the traffic needs a retry, and half may have one.
      failNext = !failNext;
      h.breakers.enable('a/m#default');
      const routed = await h
        .route('chat', async (attempt) => {
          if (failNext && attempt.deployment.id === 'a/m') throw upstream500();
          return attempt.deployment.id;
        })
        .catch(() => undefined);
      if (routed?.attempts === 2) retried += 1;
      if (routed === undefined) refused += 1;
    }
    expect(retried + refused).toBe(20);
    expect(refused).toBeLessThanOrEqual(1);
  });
});

describe('classifyFailure', () => {
  it.each<[unknown, string]>([
    [new AppError('upstream_timeout', 'slow', { isRetryable: true }), 'retry'],
    [new AppError('upstream_unavailable', 'reset', { isRetryable: true }), 'retry'],
    [new AppError('upstream_error', 'bad gateway', { upstreamStatus: 502 }), 'retry'],
    [new AppError('upstream_error', 'forbidden', { upstreamStatus: 403 }), 'credential'],
    [new AppError('upstream_rate_limited', 'slow down', { upstreamStatus: 429 }), 'rate_limited'],
    [new AppError('upstream_bad_request', 'prompt is too long: 210000 tokens > 200000 maximum'), 'context_length'],
    [new AppError('upstream_bad_request', 'x', { upstreamCode: 'content_policy_violation' }), 'content_policy'],
    [new AppError('upstream_bad_request', 'temperature must be below 2'), 'final'],
    [new AppError('invalid_request', 'no'), 'final'],
    [new Error('not ours'), 'final'],
  ])('%s → %s', (error, expected) => {
    expect(classifyFailure(error)).toBe(expected);
  });
});

describe('weightedChoice', () => {
  it('shares equally among zero weights', () => {
    const h = harness(
      [provider('a'), provider('b')],
      [model('chat', [deployment('a', { weight: 0, priority: 1 }), deployment('b', { weight: 0, priority: 2 })])],
    );
    const candidates = h.model('chat').deployments;
    expect(weightedChoice(candidates, () => 0).id).toBe('a/m');
    expect(weightedChoice(candidates, () => 0.99).id).toBe('b/m');
  });
});
