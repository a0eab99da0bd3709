import { describe, expect, it } from 'vitest';
import type { ModelConfig, ModelPricing, ProviderConfig } from '../../config/config.ts';
import { defaultRetryPolicy, defaultTimeouts, noFallbacks } from '../../config/registry-config.ts';
import { isAppError, type AppError } from '../../errors/app-error.ts';
import type { KeyPrincipal, KeyTrafficLimits } from '../../modules/keys/index.ts';
import type { BudgetRule, LimitRule, OrgTrafficPolicy, SpendOwner } from '../../modules/traffic/index.ts';
import { ModelCatalog } from '../model-catalog.ts';
import type { Demand } from './demand.ts';
import { MemoryTrafficStore } from './memory-traffic-store.ts';
import { TrafficControl, type Admission, type NewBudgetAlert, type TrafficPolicySource } from './traffic-control.ts';

const price = (input: number, output: number, perRequest = 0): ModelPricing => ({
  inputPerMillion: input * 1_000_000,
  outputPerMillion: output * 1_000_000,
  cachedInputPerMillion: input * 1_000_000,
  cacheWritePerMillion: input * 1_000_000,
  perRequest,
  priced: true,
});

const provider: ProviderConfig = {
  id: 'p',
  type: 'openai',
  preset: undefined,
  baseUrl: 'https://p.example/v1',
  credentials: [{ id: 'default', apiKey: 'sk-p', weight: 1 }],
  headers: {},
  options: {},
  maxConnections: 8,
  timeouts: defaultTimeouts,
  orgId: null,
  source: 'file',
};

function model(name: string, pricing: ModelPricing, extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name,
    kind: 'chat',
    aliases: [],
    pricing,
    deployments: [{ providerId: 'p', upstreamModel: name, weight: 1, priority: 1, pricing: undefined, timeouts: {} }],
    strategy: 'weighted',
    retry: defaultRetryPolicy,
    fallbacks: noFallbacks,
    orgId: null,
    source: 'file',
    ...extra,
  };
}

/** Prices in micro-USD per token: `cheap` 1 in / 2 out; `dear` 3 / 4 but falls back to `dearer` 5 / 6 + 7 a call. */
const table = new ModelCatalog({
  providers: [provider],
  models: [
    model('cheap', price(1, 2), { aliases: ['cheap-alias'] }),
    model('dear', price(3, 4), { fallbacks: { ...noFallbacks, unavailable: ['dearer'] } }),
    model('dearer', price(5, 6, 7)),
  ],
});

const noLimits: KeyTrafficLimits = {
  rpmLimit: null,
  tpmLimit: null,
  concurrencyLimit: null,
  budgetMicros: null,
  budgetPeriod: 'total',
};

function principal(limits: Partial<KeyTrafficLimits> = {}, extra: Partial<KeyPrincipal> = {}): KeyPrincipal {
  return {
    keyId: 'key_1',
    userId: 'user_1',
    orgId: 'org_1',
    teamId: 'team_1',
    allowedModels: null,
    scopes: new Set(['chat']),
    ipAllowlist: null,
    expiresAt: null,
    limits: { ...noLimits, ...limits },
    ...extra,
  };
}

const demand = (extra: Partial<Demand> = {}): Demand => ({
  model: 'cheap',
  promptTokens: 10,
  maxOutputTokens: 5,
  metered: true,
  ...extra,
});

interface Harness {
  control: TrafficControl;
  store: MemoryTrafficStore;
  clock: { now: number };
  policy: { limits: LimitRule[]; budgets: BudgetRule[]; timeZone: string };
  spendFromRecords: Map<string, number>;
  alerts: NewBudgetAlert[];
  raised: NewBudgetAlert[];
  loads: { count: number };
  epoch: { value: number };
  admit: (who?: KeyPrincipal, what?: Demand) => Promise<Admission>;
  refusal: (who?: KeyPrincipal, what?: Demand) => Promise<AppError>;
}

function harness(): Harness {
  const clock = { now: Date.UTC(2026, 11, 1, 12) };
  const store = new MemoryTrafficStore();
  const policy = { limits: [] as LimitRule[], budgets: [] as BudgetRule[], timeZone: 'UTC' };
  const spendFromRecords = new Map<string, number>();
  const alerts: NewBudgetAlert[] = [];
  const raised: NewBudgetAlert[] = [];
  const loads = { count: 0 };
  const epoch = { value: 1 };
  const stored = new Set<string>();
  const source: TrafficPolicySource = {
    loadOrgPolicy: async (orgId): Promise<OrgTrafficPolicy> => {
      loads.count += 1;
      if (orgId !== 'org_1') return { orgId, timeZone: 'UTC', limits: [], budgets: [] };
      return { orgId, timeZone: policy.timeZone, limits: [...policy.limits], budgets: [...policy.budgets] };
    },
    readEpoch: async () => epoch.value,
    sumSpend: async (owner: SpendOwner) => spendFromRecords.get(JSON.stringify(owner)) ?? 0,
    recordAlert: async (alert) => {
      alerts.push(alert);
      const key = `${alert.budgetRef}:${alert.periodStart}:${alert.threshold}`;
      if (stored.has(key)) return false;
      stored.add(key);
      return true;
    },
  };
  const control = new TrafficControl({
    store,
    source,
    config: { defaultMaxTokens: 100, leaseMs: 60_000, pollMs: 1000, heartbeatMs: 5000 },
    now: () => clock.now,
    onAlert: (alert) => raised.push(alert),
  });
  const admit = (who = principal(), what = demand()) =>
    control.admit(who, what, table, what.model === undefined ? undefined : table.resolve(what.model));
  return {
    control,
    store,
    clock,
    policy,
    spendFromRecords,
    alerts,
    raised,
    loads,
    epoch,
    admit,
    refusal: async (who, what) => {
      try {
        await admit(who, what);
      } catch (error) {
        if (isAppError(error)) return error;
        throw error;
      }
      throw new Error('the request was admitted');
    },
  };
}

/** Lets settlement (which runs after release, off the request's path) finish. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 5));

const rule = (extra: Partial<LimitRule>): LimitRule => ({
  id: 'rule_1',
  orgId: 'org_1',
  subject: { type: 'organization', id: 'org_1' },
  model: null,
  rpmLimit: null,
  tpmLimit: null,
  concurrencyLimit: null,
  ...extra,
});

const budget = (extra: Partial<BudgetRule>): BudgetRule => ({
  id: 'budget_1',
  orgId: 'org_1',
  subject: { type: 'organization', id: 'org_1' },
  amountMicros: 1000,
  period: 'month',
  alertThresholds: [50, 80, 100],
  ...extra,
});

describe('TrafficControl', () => {
  it('admits without touching the store when nothing limits the request', async () => {
    const { admit } = harness();
    const admission = await admit();
    expect(admission.headers).toEqual({});
    admission.release();
  });

  it("refuses past a key's requests per minute, naming the limit, with a wait", async () => {
    const { admit, refusal, clock } = harness();
    const key = principal({ rpmLimit: 2 });
    const first = await admit(key);
    expect(first.headers.requests).toMatchObject({ limit: 2, remaining: 1 });
    await admit(key);
    const error = await refusal(key);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('this API key');
    expect(error.message).toContain('2 requests per minute');
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    clock.now += 60_000;
    await expect(admit(key)).resolves.toBeDefined();
  });

  it('applies organization, team and user rules only to their own keys, and per-model rules only to their model', async () => {
    const { admit, refusal, policy } = harness();
    policy.limits.push(
      rule({ id: 'team', subject: { type: 'team', id: 'team_1' }, rpmLimit: 1 }),
      rule({ id: 'user', subject: { type: 'user', id: 'user_2' }, rpmLimit: 1 }),
      rule({ id: 'model', subject: { type: 'organization', id: 'org_1' }, model: 'cheap', concurrencyLimit: 1 }),
    );
    const teamKey = principal();
    await admit(teamKey, demand({ model: 'dear' }));
    expect((await refusal(teamKey, demand({ model: 'dear' }))).message).toContain('team team_1');
    // Another team's key of user_2: only the user rule applies.
    const userKey = principal({}, { keyId: 'key_2', userId: 'user_2', teamId: 'team_2' });
    await admit(userKey, demand({ model: 'dear' }));
    expect((await refusal(userKey, demand({ model: 'dear' }))).message).toContain('user user_2');
    // The per-model rule holds `cheap` (by its alias too) to one at a time for every key of the organization.
    const otherKey = principal({}, { keyId: 'key_3', userId: 'user_3', teamId: null });
    const held = await admit(otherKey, demand({ model: 'cheap-alias' }));
    const error = await refusal(otherKey, demand({ model: 'cheap' }));
    expect(error.message).toContain('(model cheap)');
    expect(error.message).toContain('1 requests at once');
    await admit(otherKey, demand({ model: 'dear' }));
    held.release();
    await settled();
    await expect(admit(otherKey, demand({ model: 'cheap' }))).resolves.toBeDefined();
    // A key of another organization is untouched by all of it.
    const outsider = principal({}, { keyId: 'key_4', orgId: 'org_2', teamId: 'team_1' });
    for (let index = 0; index < 3; index += 1) await admit(outsider, demand({ model: 'cheap' }));
  });

  it('reserves the worst case over the model, its deployments and its fallbacks, and settles the true cost', async () => {
    const { admit, refusal, control, spendFromRecords } = harness();
    spendFromRecords.set(JSON.stringify({ type: 'key', keyId: 'key_1' }), 850);
    const key = principal({ budgetMicros: 1000 });
    // `dear` may land on `dearer`: 10 prompt tokens × 5 + 5 output × 6 + the 7 fee = 87 per request.
    const first = await admit(key, demand({ model: 'dear' }));
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ spent: 850, reserved: 87 });
    const error = await refusal(key, demand({ model: 'dear' }));
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toContain('reserves up to 87 micro-USD');
    first.recordUsage(40, 12);
    first.release();
    await settled();
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ spent: 890, reserved: 0 });
    await expect(admit(key, demand({ model: 'dear' }))).resolves.toBeDefined();
  });

  it('blocks at once when spend already reached the budget, even for a model without prices', async () => {
    const { refusal, admit, spendFromRecords } = harness();
    spendFromRecords.set(JSON.stringify({ type: 'key', keyId: 'key_1' }), 500);
    const key = principal({ budgetMicros: 400, budgetPeriod: 'day' });
    const error = await refusal(key, demand({ model: 'unknown-model' }));
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toContain('per day');
    expect(error.message).toContain('2026-12-02T00:00:00.000Z');
    expect(error.retryAfterSeconds).toBe(12 * 3600);
    // What costs nothing upstream (token counting, listings) is not held to budgets.
    await expect(admit(key, demand({ metered: false, promptTokens: 0, maxOutputTokens: 0 }))).resolves.toBeDefined();
  });

  it('settles a request whose client left only once its meter has told the cost, freeing its slots at once', async () => {
    const { admit, refusal, control } = harness();
    const key = principal({ budgetMicros: 10_000, concurrencyLimit: 1 });
    const dropped = await admit(key);
    dropped.release();
    await settled();
    // The slot is free, the reservation (10 × 1 + 5 × 2) still held until the cost is known.
    const next = await admit(key);
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ spent: 0, reserved: 40 });
    expect((await refusal(key)).message).toContain('1 requests at once');
    dropped.recordUsage(13, 6);
    await settled();
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ spent: 13, reserved: 20 });
    next.recordUsage(7, 3);
    next.release();
    await settled();
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ spent: 20, reserved: 0 });
  });

  it('reserves the configured default when a request names no output bound', async () => {
    const { admit, control } = harness();
    const key = principal({ budgetMicros: 10_000, tpmLimit: 1000 });
    const admission = await admit(key, demand({ maxOutputTokens: undefined }));
    // 10 × 1 + 100 default output tokens × 2.
    expect(await control.keyBudgetStatus('key_1', 'org_1', 'total')).toMatchObject({ reserved: 210 });
    expect(admission.headers.tokens).toMatchObject({ limit: 1000, remaining: 890 });
  });

  it('corrects token windows to the real usage once the request settles', async () => {
    const { admit, refusal } = harness();
    const key = principal({ tpmLimit: 100 });
    const big = await admit(key, demand({ promptTokens: 20, maxOutputTokens: 60 }));
    expect(big.headers.tokens?.remaining).toBe(20);
    const error = await refusal(key, demand({ promptTokens: 20, maxOutputTokens: 60 }));
    expect(error.message).toContain('100 tokens per minute');
    big.recordUsage(5, 25);
    big.release();
    await settled();
    const next = await admit(key, demand({ promptTokens: 20, maxOutputTokens: 50 }));
    expect(next.headers.tokens?.remaining).toBe(100 - 25 - 70);
    const tooBig = await refusal(key, demand({ promptTokens: 90, maxOutputTokens: 20 }));
    expect(tooBig.message).toContain('more than the limit of 100 tokens per minute');
    expect(tooBig.retryAfterSeconds).toBeUndefined();
  });

  it('keeps a budget per period in the organization time zone', async () => {
    const { admit, refusal, control, policy, clock } = harness();
    policy.timeZone = 'Asia/Tokyo';
    policy.budgets.push(budget({ period: 'day', amountMicros: 30 }));
    const first = await admit(principal(), demand());
    first.recordUsage(25, 1);
    first.release();
    await settled();
    expect((await refusal(principal(), demand())).message).toContain('2026-12-01T15:00:00.000Z');
    // Midnight in Tokyo: a new day with its own spend.
    clock.now = Date.UTC(2026, 11, 1, 15);
    await expect(admit(principal(), demand())).resolves.toBeDefined();
    const status = await control.ruleBudgetStatus(policy.budgets[0] as BudgetRule);
    expect(status.period).toEqual({ start: Date.UTC(2026, 11, 1, 15), end: Date.UTC(2026, 12 - 1, 2, 15) });
  });

  it('raises each threshold once per period, as spend crosses it', async () => {
    const { admit, raised, alerts, policy } = harness();
    policy.budgets.push(budget({ amountMicros: 1000, alertThresholds: [50, 100] }));
    const spend = async (cost: number): Promise<void> => {
      const admission = await admit(principal(), demand({ promptTokens: 0, maxOutputTokens: 0 }));
      admission.recordUsage(cost, 1);
      admission.release();
      await settled();
    };
    await spend(400);
    expect(raised).toEqual([]);
    await spend(200);
    expect(raised.map((alert) => alert.threshold)).toEqual([50]);
    expect(raised[0]).toMatchObject({ budgetRef: 'budget_1', subjectType: 'organization', spentMicros: 600 });
    await spend(100);
    await spend(300);
    expect(raised.map((alert) => alert.threshold)).toEqual([50, 100]);
    // Crossing is decided by this request's own spend, so each threshold is offered once.
    expect(alerts).toHaveLength(2);
  });

  it('caches rules per organization until the traffic epoch moves', async () => {
    const { admit, refusal, control, policy, loads, epoch } = harness();
    await control.poll();
    await admit();
    await admit();
    expect(loads.count).toBe(1);
    policy.limits.push(rule({ rpmLimit: 1 }));
    await admit();
    await control.poll();
    await admit();
    expect(loads.count).toBe(1);
    epoch.value += 1;
    await control.poll();
    await admit();
    expect(loads.count).toBe(2);
    expect((await refusal()).message).toContain('the organization');
  });

  it('renews the leases of long requests so that a slot is not taken from a running stream', async () => {
    const { admit, refusal, control, clock } = harness();
    const key = principal({ concurrencyLimit: 1 });
    const stream = await admit(key);
    // Without renewal the lease (60 s) would lapse and let a second request in.
    for (let step = 0; step < 10; step += 1) {
      clock.now += 20_000;
      await control.renewLeases();
    }
    expect((await refusal(key)).message).toContain('1 requests at once');
    stream.release();
    await settled();
    await expect(admit(key)).resolves.toBeDefined();
  });
});
