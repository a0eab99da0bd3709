import { randomUUID } from 'node:crypto';
import type { TrafficConfig } from '../../config/config.ts';
import { AppError } from '../../errors/app-error.ts';
import { costMicros } from '../../lib/money.ts';
import type { KeyPrincipal } from '../../modules/keys/index.ts';
import {
  defaultAlertThresholds,
  periodBounds,
  type BudgetAlert,
  type BudgetPeriod,
  type BudgetRule,
  type LimitRule,
  type OrgTrafficPolicy,
  type PeriodBounds,
  type SpendOwner,
  type TrafficSubject,
} from '../../modules/traffic/index.ts';
import type { CatalogModel, ModelCatalog } from '../model-catalog.ts';
import type { Demand } from './demand.ts';
import type {
  AdmitResult,
  BudgetCheck,
  BudgetState,
  SlotCheck,
  TrafficStore,
  WindowCheck,
  WindowState,
} from './traffic-store.ts';

/** A threshold alert before it is stored. */
export type NewBudgetAlert = Omit<BudgetAlert, 'id' | 'createdAt'>;

/** Where traffic control reads its rules and the spend it cannot know by itself (modules/traffic's service). */
export interface TrafficPolicySource {
  loadOrgPolicy(orgId: string): Promise<OrgTrafficPolicy>;
  /** The `traffic` cache epoch: moves whenever a limit, a budget or an organization's time zone changes. */
  readEpoch(): Promise<number>;
  /** Spend recorded in the usage records since `from` (epoch ms). */
  sumSpend(owner: SpendOwner, from: number): Promise<number>;
  /** Stores an alert unless it was raised already this period (on any instance); true when it is new. */
  recordAlert(alert: NewBudgetAlert): Promise<boolean>;
}

export interface TrafficControlOptions {
  readonly store: TrafficStore;
  readonly source: TrafficPolicySource;
  readonly config: TrafficConfig;
  readonly now?: () => number;
  /** A budget crossed one of its thresholds for the first time this period. */
  readonly onAlert?: (alert: NewBudgetAlert) => void;
  /** Reading the epoch, renewing leases or recording an alert failed (the request itself is not affected). */
  readonly onBackgroundError?: (error: unknown, task: 'poll' | 'renew' | 'alert' | 'settle') => void;
}

/** A budget's spend and reservations now, and the period they belong to. */
export interface BudgetFigures {
  readonly spent: number;
  readonly reserved: number;
  readonly period: PeriodBounds;
}

/** The x-ratelimit-* figures of the tightest request and token windows that applied. */
export interface RateLimitHeaders {
  readonly requests?: { readonly limit: number; readonly remaining: number; readonly resetMs: number };
  readonly tokens?: { readonly limit: number; readonly remaining: number; readonly resetMs: number };
}

/**
 * What one admitted request holds: concurrency slots, budget reservations and the token estimate counted in its
 * windows. `recordUsage` notes the true cost and tokens when the request is metered; `release` settles everything
 * (once), whether the request succeeded, failed or was cut.
 */
export interface Admission {
  readonly headers: RateLimitHeaders;
  recordUsage(costMicros: number, tokens: number): void;
  release(): void;
}

/** A limit or budget and whose it is, for error messages and alerts. */
interface Holder {
  /** Prefix of the state keys: `k:<key id>` for a key's own limits, `r:<rule id>` for a rule. */
  readonly ref: string;
  /** How an error names it: `this API key`, `team tm_…`, … */
  readonly label: string;
}

/** A budget as admission sees it: a key's own, or a rule's. */
interface BudgetSpec {
  readonly holder: Holder;
  /** How alerts and the API name the budget: the rule's id, or `key:<key id>` for a key's own budget. */
  readonly budgetRef: string;
  /** Whose usage records its spend is read from. */
  readonly owner: SpendOwner;
  readonly orgId: string | null;
  readonly subjectType: NewBudgetAlert['subjectType'];
  readonly subjectId: string;
  readonly amountMicros: number;
  readonly period: BudgetPeriod;
  readonly thresholds: readonly number[];
}

interface BudgetHold {
  readonly check: BudgetCheck;
  readonly spec: BudgetSpec;
  /** The period the request is counted in. */
  readonly bounds: PeriodBounds;
}

interface WindowHold {
  readonly check: WindowCheck;
  readonly holder: Holder;
  readonly unit: 'requests' | 'tokens';
}

interface SlotHold {
  readonly check: SlotCheck;
  readonly holder: Holder;
}

interface Plan {
  readonly windows: WindowHold[];
  readonly slots: SlotHold[];
  readonly budgets: BudgetHold[];
}

const minuteMs = 60_000;
/** Each admission tries again at most this often after seeding budgets (another seeding can race it once). */
const maxSeedRounds = 3;

/** Admissions without any limit share this: nothing to settle. */
export const unlimitedAdmission: Admission = { headers: {}, recordUsage: () => {}, release: () => {} };

/**
 * The one place AI Hub enforces rate limits, concurrency limits and budgets on gateway traffic. For each request it
 * gathers the limits that apply (the key's own, and the rules of its user, team and organization, for every model or
 * the one asked for), then admits it atomically through the shared store: every window has room, every concurrency
 * limit a free slot, and every budget room for the request's worst-case cost, which is reserved. When the request
 * ends, the true cost replaces the reservation and the token windows are corrected to the real usage.
 *
 * Rules are cached per organization and dropped when the `traffic` epoch moves (polled every `pollMs`), so changes
 * made on any instance apply everywhere within about a second. A key's own limits arrive with its principal, which
 * the key cache reloads the same way.
 */
export class TrafficControl {
  readonly #store: TrafficStore;
  readonly #source: TrafficPolicySource;
  readonly #config: TrafficConfig;
  readonly #now: () => number;
  readonly #onAlert: (alert: NewBudgetAlert) => void;
  readonly #onBackgroundError: NonNullable<TrafficControlOptions['onBackgroundError']>;
  readonly #policies = new Map<string, OrgTrafficPolicy>();
  readonly #loading = new Map<string, Promise<OrgTrafficPolicy>>();
  /** Bumped whenever the cache is dropped; a load that straddles one is not cached. */
  #generation = 0;
  #epoch: number | undefined;
  readonly #live = new Set<LiveAdmission>();
  readonly #prices = new WeakMap<CatalogModel, WorstCasePrices>();
  /** The current period per kind and zone: working it out takes calendar arithmetic in the zone, a hit one Map read. */
  readonly #periods = new Map<string, PeriodBounds>();
  readonly #keyTemplates = new WeakMap<KeyPrincipal, LimitTemplate>();
  readonly #ruleTemplates = new WeakMap<LimitRule, LimitTemplate>();
  readonly #ruleBudgets = new WeakMap<BudgetRule, BudgetSpec>();
  #pollTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(options: TrafficControlOptions) {
    this.#store = options.store;
    this.#source = options.source;
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    this.#onAlert = options.onAlert ?? (() => {});
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
  }

  async start(): Promise<void> {
    this.#epoch = await this.#source.readEpoch();
    this.#pollTimer = setInterval(() => void this.poll(), this.#config.pollMs);
    this.#pollTimer.unref();
    this.#renewTimer = setInterval(() => void this.renewLeases(), Math.max(100, Math.floor(this.#config.leaseMs / 3)));
    this.#renewTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#pollTimer);
    clearInterval(this.#renewTimer);
    await this.#store.close();
  }

  /** Drops cached rules when they changed anywhere; the timer calls it, and tests call it to skip the wait. */
  async poll(): Promise<void> {
    try {
      const epoch = await this.#source.readEpoch();
      if (epoch !== this.#epoch) {
        this.#epoch = epoch;
        this.invalidate();
      }
    } catch (error) {
      this.#onBackgroundError(error, 'poll');
    }
  }

  invalidate(): void {
    this.#generation += 1;
    this.#policies.clear();
  }

  /**
   * Admits a request or throws 429 naming the limit it hit (with Retry-After when waiting helps). `model` is the
   * model the demand names as the routing table resolves it, when it does.
   */
  async admit(
    principal: KeyPrincipal,
    demand: Demand,
    table: ModelCatalog,
    model: CatalogModel | undefined,
  ): Promise<Admission> {
    const orgId = principal.orgId;
    const policy = orgId === null ? undefined : (this.#policies.get(orgId) ?? (await this.#policyFor(orgId)));
    const { rpmLimit, tpmLimit, concurrencyLimit, budgetMicros } = principal.limits;
    const keyUnlimited = rpmLimit === null && tpmLimit === null && concurrencyLimit === null && budgetMicros === null;
    if (keyUnlimited && (!policy || (policy.limits.length === 0 && policy.budgets.length === 0))) {
      return unlimitedAdmission;
    }
    const now = this.#now();
    const plan = this.#plan(principal, policy, demand, table, model, now);
    if (plan.windows.length === 0 && plan.slots.length === 0 && plan.budgets.length === 0) return unlimitedAdmission;
    const ticket = randomUUID();
    const request = {
      ticket,
      now,
      leaseMs: this.#config.leaseMs,
      windows: plan.windows.map((hold) => hold.check),
      slots: plan.slots.map((hold) => hold.check),
      budgets: plan.budgets.map((hold) => hold.check),
    };
    let result: AdmitResult = await this.#store.admit(request);
    for (let round = 1; result.outcome === 'unseeded' && round <= maxSeedRounds; round += 1) {
      await this.#seed(result.budgetIndexes.map((index) => plan.budgets[index] as BudgetHold));
      result = await this.#store.admit(request);
    }
    if (result.outcome === 'unseeded') {
      throw new AppError('service_unavailable', 'budget state could not be loaded; try again', {
        retryAfterSeconds: 1,
      });
    }
    if (result.outcome === 'refused') throw refusal(plan, result, demand, now);
    const headers = headersFor(plan.windows, result.windows);
    const admission = new LiveAdmission(this, ticket, plan, now, headers, demand.metered, this.#config.leaseMs);
    if (plan.slots.length > 0 || plan.budgets.length > 0) this.#live.add(admission);
    return admission;
  }

  /** Extends the leases of long requests (streams) so that only a crashed instance's lapse. */
  async renewLeases(): Promise<void> {
    const now = this.#now();
    const renewals: Promise<void>[] = [];
    for (const admission of this.#live) {
      if (now - admission.renewedAt < this.#config.leaseMs / 3) continue;
      admission.renewedAt = now;
      renewals.push(
        this.#store.renew(
          admission.ticket,
          admission.slotKeys,
          admission.plan.budgets.map((hold) => hold.check.key),
          now,
          this.#config.leaseMs,
        ),
      );
    }
    const results = await Promise.allSettled(renewals);
    for (const result of results) if (result.status === 'rejected') this.#onBackgroundError(result.reason, 'renew');
  }

  /**
   * Settles an admission: replaces its reservations with the true cost, corrects its token windows and frees its
   * slots (unless `freeSlots` did already).
   */
  async settle(admission: LiveAdmission, cost: number, tokens: number | undefined, slotsHeld: boolean): Promise<void> {
    this.#live.delete(admission);
    const { plan, ticket } = admission;
    const now = this.#now();
    const corrections = [];
    if (tokens !== undefined) {
      for (const hold of plan.windows) {
        if (hold.unit !== 'tokens' || tokens === hold.check.amount) continue;
        corrections.push({
          key: hold.check.key,
          windowMs: hold.check.windowMs,
          admittedAt: admission.admittedAt,
          delta: tokens - hold.check.amount,
        });
      }
    }
    const slotKeys = slotsHeld ? admission.slotKeys : [];
    try {
      const settling =
        slotKeys.length > 0 || plan.budgets.length > 0
          ? this.#store.settle(
              ticket,
              slotKeys,
              plan.budgets.map((hold) => ({ key: hold.check.key, cost })),
            )
          : undefined;
      const [spent] =
        corrections.length > 0
          ? await Promise.all([settling, this.#store.correct(corrections, now)])
          : [await settling];
      if (cost > 0 && spent !== undefined) this.#raiseAlerts(plan.budgets, spent, cost);
    } catch (error) {
      this.#onBackgroundError(error, 'settle');
    }
  }

  /** Frees an admission's slots before it is settled (its client went away while it was still being metered). */
  async freeSlots(admission: LiveAdmission): Promise<void> {
    if (admission.slotKeys.length === 0) return;
    try {
      await this.#store.settle(admission.ticket, admission.slotKeys, []);
    } catch (error) {
      this.#onBackgroundError(error, 'settle');
    }
  }

  /** A budget rule's live figures now (its spend read from the usage records when the store holds none yet). */
  async ruleBudgetStatus(rule: BudgetRule): Promise<BudgetFigures> {
    return this.#budgetFigures(this.#ruleBudget(rule), (await this.#policyFor(rule.orgId)).timeZone);
  }

  /** The same for a key's own budget. */
  async keyBudgetStatus(keyId: string, orgId: string | null, budgetPeriod: BudgetPeriod): Promise<BudgetFigures> {
    const timeZone = orgId === null ? 'UTC' : (await this.#policyFor(orgId)).timeZone;
    return this.#budgetFigures(keyBudget(keyId, orgId, 0, budgetPeriod), timeZone);
  }

  async #budgetFigures(spec: BudgetSpec, timeZone: string): Promise<BudgetFigures> {
    const now = this.#now();
    const period = this.#periodOf(spec.period, timeZone, now);
    const key = budgetStateKey(spec, period);
    const state = (await this.#store.readBudget(key, now)) ?? (await this.#seedBudget(key, spec, period, now));
    return { ...state, period };
  }

  /** Reads a budget's spend in its period from the usage records and gives it to the store (the first seeder wins). */
  async #seedBudget(key: string, spec: BudgetSpec, period: PeriodBounds, now: number): Promise<BudgetState> {
    const spent = await this.#source.sumSpend(spec.owner, period.start);
    await this.#store.seedBudget(key, spent, ttlFor(period, now));
    return (await this.#store.readBudget(key, now)) ?? { spent, reserved: 0 };
  }

  #raiseAlerts(budgets: readonly BudgetHold[], spentAfter: readonly (number | undefined)[], cost: number): void {
    budgets.forEach((hold, index) => {
      const spent = spentAfter[index];
      if (spent === undefined) return;
      const limit = hold.check.limit;
      const { spec } = hold;
      for (const threshold of spec.thresholds) {
        const mark = (limit * threshold) / 100;
        if (spent - cost >= mark || spent < mark) continue;
        const alert: NewBudgetAlert = {
          orgId: spec.orgId,
          budgetRef: spec.budgetRef,
          subjectType: spec.subjectType,
          subjectId: spec.subjectId,
          periodStart: hold.bounds.start,
          threshold,
          amountMicros: limit,
          spentMicros: spent,
        };
        this.#source.recordAlert(alert).then(
          (fresh) => {
            if (fresh) this.#onAlert(alert);
          },
          (error: unknown) => this.#onBackgroundError(error, 'alert'),
        );
      }
    });
  }

  /** A key's limits with their state keys, built once per principal (the key cache replaces it on any change). */
  #keyTemplate(principal: KeyPrincipal): LimitTemplate {
    let template = this.#keyTemplates.get(principal);
    if (!template) {
      const { rpmLimit, tpmLimit, concurrencyLimit } = principal.limits;
      template = limitTemplate(
        { ref: `k:${principal.keyId}`, label: 'this API key' },
        rpmLimit,
        tpmLimit,
        concurrencyLimit,
      );
      this.#keyTemplates.set(principal, template);
    }
    return template;
  }

  /** The same per rule (rules are replaced whole when they change). */
  #ruleTemplate(rule: LimitRule): LimitTemplate {
    let template = this.#ruleTemplates.get(rule);
    if (!template) {
      const holder = { ref: `r:${rule.id}`, label: labelOf(rule.subject, rule.model) };
      template = limitTemplate(holder, rule.rpmLimit, rule.tpmLimit, rule.concurrencyLimit);
      this.#ruleTemplates.set(rule, template);
    }
    return template;
  }

  #periodOf(period: BudgetPeriod, timeZone: string, now: number): PeriodBounds {
    const cacheKey = `${period} ${timeZone}`;
    const cached = this.#periods.get(cacheKey);
    if (cached && cached.start <= now && (cached.end === null || now < cached.end)) return cached;
    const bounds = periodBounds(period, timeZone, now);
    this.#periods.set(cacheKey, bounds);
    return bounds;
  }

  async #seed(budgets: readonly BudgetHold[]): Promise<void> {
    const now = this.#now();
    await Promise.all(budgets.map((hold) => this.#seedBudget(hold.check.key, hold.spec, hold.bounds, now)));
  }

  /** A rule's budget as admission sees it, built once per rule (rules are replaced whole when they change). */
  #ruleBudget(rule: BudgetRule): BudgetSpec {
    let spec = this.#ruleBudgets.get(rule);
    if (!spec) {
      spec = {
        holder: { ref: `r:${rule.id}`, label: labelOf(rule.subject, null) },
        budgetRef: rule.id,
        owner: ownerOf(rule),
        orgId: rule.orgId,
        subjectType: rule.subject.type,
        subjectId: rule.subject.id,
        amountMicros: rule.amountMicros,
        period: rule.period,
        thresholds: rule.alertThresholds,
      };
      this.#ruleBudgets.set(rule, spec);
    }
    return spec;
  }

  async #policyFor(orgId: string): Promise<OrgTrafficPolicy> {
    const cached = this.#policies.get(orgId);
    if (cached) return cached;
    let pending = this.#loading.get(orgId);
    if (!pending) {
      const generation = this.#generation;
      pending = this.#source
        .loadOrgPolicy(orgId)
        .then((policy) => {
          if (this.#generation === generation) this.#policies.set(orgId, policy);
          return policy;
        })
        .finally(() => this.#loading.delete(orgId));
      this.#loading.set(orgId, pending);
    }
    return pending;
  }

  #plan(
    principal: KeyPrincipal,
    policy: OrgTrafficPolicy | undefined,
    demand: Demand,
    table: ModelCatalog,
    model: CatalogModel | undefined,
    now: number,
  ): Plan {
    const plan: Plan = { windows: [], slots: [], budgets: [] };
    const tokens = demand.metered ? demand.promptTokens + (demand.maxOutputTokens ?? this.#config.defaultMaxTokens) : 0;
    addLimits(plan, this.#keyTemplate(principal), tokens);
    if (policy) {
      for (const rule of policy.limits) {
        if (appliesTo(rule.subject, principal) && modelMatches(rule, demand.model, model)) {
          addLimits(plan, this.#ruleTemplate(rule), tokens);
        }
      }
    }
    // Requests that cost nothing upstream (token counting, listings) are not held to budgets.
    if (!demand.metered) return plan;
    const { budgetMicros, budgetPeriod } = principal.limits;
    const budgets: BudgetSpec[] = [];
    if (budgetMicros !== null) budgets.push(keyBudget(principal.keyId, principal.orgId, budgetMicros, budgetPeriod));
    for (const rule of policy?.budgets ?? []) {
      if (appliesTo(rule.subject, principal)) budgets.push(this.#ruleBudget(rule));
    }
    if (budgets.length === 0) return plan;
    const amount = this.#worstCaseCost(demand, table, model);
    const timeZone = policy?.timeZone ?? 'UTC';
    for (const spec of budgets) {
      const bounds = this.#periodOf(spec.period, timeZone, now);
      plan.budgets.push({
        check: { key: budgetStateKey(spec, bounds), limit: spec.amountMicros, amount },
        spec,
        bounds,
      });
    }
    return plan;
  }

  /**
   * The most this request can cost: its token bound at the highest prices of every deployment of the model and of
   * its fallback models (routing may land on any of them), plus the highest per-request fee.
   */
  #worstCaseCost(demand: Demand, table: ModelCatalog, model: CatalogModel | undefined): number {
    if (!model) return 0;
    let prices = this.#prices.get(model);
    if (!prices) {
      prices = worstCasePrices(model, table);
      this.#prices.set(model, prices);
    }
    const output = demand.maxOutputTokens ?? this.#config.defaultMaxTokens;
    return costMicros(
      { prompt: demand.promptTokens, completion: output, cached: 0, requests: 1 },
      { input: prices.input, output: prices.output, cachedInput: prices.input, perRequest: prices.perRequest },
    );
  }
}

/**
 * An admitted request with something to settle. It settles once both its response has ended and, for a metered
 * request, its meter has told the true cost. A client that goes away ends the response before the meter has finished
 * (the partial usage is counted first): its slots are freed at once and its budgets settled when the cost arrives, or
 * with no cost after `settleGraceMs` should it never come.
 */
class LiveAdmission implements Admission {
  readonly #control: TrafficControl;
  readonly ticket: string;
  readonly plan: Plan;
  readonly admittedAt: number;
  readonly headers: RateLimitHeaders;
  readonly slotKeys: readonly string[];
  readonly #metered: boolean;
  readonly #settleGraceMs: number;
  renewedAt: number;
  #cost = 0;
  #tokens: number | undefined;
  #recorded = false;
  #responseEnded = false;
  #slotsFreed = false;
  #settled = false;
  #grace: NodeJS.Timeout | undefined;

  constructor(
    control: TrafficControl,
    ticket: string,
    plan: Plan,
    admittedAt: number,
    headers: RateLimitHeaders,
    metered: boolean,
    settleGraceMs: number,
  ) {
    this.#control = control;
    this.ticket = ticket;
    this.plan = plan;
    this.admittedAt = admittedAt;
    this.renewedAt = admittedAt;
    this.headers = headers;
    this.slotKeys = plan.slots.map((hold) => hold.check.key);
    this.#metered = metered;
    this.#settleGraceMs = settleGraceMs;
  }

  recordUsage(cost: number, tokens: number): void {
    if (this.#recorded || this.#settled) return;
    this.#recorded = true;
    this.#cost = cost;
    this.#tokens = tokens;
    if (this.#responseEnded) this.#settle();
  }

  release(): void {
    if (this.#responseEnded) return;
    this.#responseEnded = true;
    if (this.#recorded || !this.#metered) {
      this.#settle();
      return;
    }
    this.#slotsFreed = true;
    void this.#control.freeSlots(this);
    this.#grace = setTimeout(() => this.#settle(), this.#settleGraceMs);
    this.#grace.unref();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#grace);
    void this.#control.settle(this, this.#cost, this.#tokens, !this.#slotsFreed);
  }
}

interface WorstCasePrices {
  readonly input: number;
  readonly output: number;
  readonly perRequest: number;
}

function worstCasePrices(model: CatalogModel, table: ModelCatalog): WorstCasePrices {
  const models = [model];
  const { contextLength, contentPolicy, unavailable } = model.fallbacks;
  for (const name of [contextLength, contentPolicy, ...unavailable]) {
    const fallback = name === undefined ? undefined : table.resolve(name, model.orgId);
    if (fallback) models.push(fallback);
  }
  let input = 0;
  let output = 0;
  let perRequest = 0;
  for (const candidate of models) {
    for (const pricing of [candidate.pricing, ...candidate.deployments.map((deployment) => deployment.pricing)]) {
      input = Math.max(input, pricing.inputPerMillion, pricing.cachedInputPerMillion, pricing.cacheWritePerMillion);
      output = Math.max(output, pricing.outputPerMillion);
      perRequest = Math.max(perRequest, pricing.perRequest);
    }
  }
  return { input, output, perRequest };
}

/** A holder's rate and concurrency limits with the state keys they count under. */
interface LimitTemplate {
  readonly holder: Holder;
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly concurrency: number | null;
  readonly rpmKey: string;
  readonly tpmKey: string;
  readonly concurrencyKey: string;
}

function limitTemplate(
  holder: Holder,
  rpm: number | null,
  tpm: number | null,
  concurrency: number | null,
): LimitTemplate {
  const { ref } = holder;
  return { holder, rpm, tpm, concurrency, rpmKey: `${ref}:rpm`, tpmKey: `${ref}:tpm`, concurrencyKey: `${ref}:conc` };
}

function addLimits(plan: Plan, template: LimitTemplate, tokens: number): void {
  const { holder, rpm, tpm, concurrency } = template;
  if (rpm !== null) {
    plan.windows.push({
      check: { key: template.rpmKey, limit: rpm, amount: 1, windowMs: minuteMs },
      holder,
      unit: 'requests',
    });
  }
  if (tpm !== null && tokens > 0) {
    plan.windows.push({
      check: { key: template.tpmKey, limit: tpm, amount: tokens, windowMs: minuteMs },
      holder,
      unit: 'tokens',
    });
  }
  if (concurrency !== null) plan.slots.push({ check: { key: template.concurrencyKey, limit: concurrency }, holder });
}

function appliesTo(subject: TrafficSubject, principal: KeyPrincipal): boolean {
  switch (subject.type) {
    case 'organization':
      return subject.id === principal.orgId;
    case 'team':
      return subject.id === principal.teamId;
    case 'user':
      return subject.id === principal.userId;
  }
}

/** A per-model rule applies to the model by any of its names, or to the name asked for when no model resolved. */
function modelMatches(rule: LimitRule, requested: string | undefined, model: CatalogModel | undefined): boolean {
  if (rule.model === null) return true;
  if (model) return model.names.includes(rule.model);
  return requested === rule.model;
}

function labelOf(subject: TrafficSubject, model: string | null): string {
  const owner = subject.type === 'organization' ? 'the organization' : `${subject.type} ${subject.id}`;
  return model === null ? owner : `${owner} (model ${model})`;
}

/** A key's own budget as admission sees it. */
function keyBudget(keyId: string, orgId: string | null, amountMicros: number, period: BudgetPeriod): BudgetSpec {
  return {
    holder: { ref: `k:${keyId}`, label: 'this API key' },
    budgetRef: `key:${keyId}`,
    owner: { type: 'key', keyId },
    orgId,
    subjectType: 'key',
    subjectId: keyId,
    amountMicros,
    period,
    thresholds: defaultAlertThresholds,
  };
}

/** State keys of budgets name their period, so a new period (or a changed period kind) starts from its own spend. */
function budgetStateKey(spec: BudgetSpec, bounds: PeriodBounds): string {
  return `${spec.holder.ref}:${spec.period}:b:${bounds.start}`;
}

function ownerOf(rule: BudgetRule): SpendOwner {
  switch (rule.subject.type) {
    case 'organization':
      return { type: 'organization', orgId: rule.orgId };
    case 'team':
      return { type: 'team', orgId: rule.orgId, teamId: rule.subject.id };
    case 'user':
      return { type: 'user', orgId: rule.orgId, userId: rule.subject.id };
  }
}

/** Budget state lives a day past its period (a day for `total` budgets, renewed by use). */
function ttlFor(period: PeriodBounds, now: number): number {
  const day = 86_400_000;
  return period.end === null ? 30 * day : Math.max(day, period.end - now + day);
}

function refusal(
  plan: Plan,
  result: Extract<AdmitResult, { outcome: 'refused' }>,
  demand: Demand,
  now: number,
): AppError {
  const retryAfterSeconds =
    result.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const retry = retryAfterSeconds === undefined ? '' : `; retry after ${retryAfterSeconds} s`;
  switch (result.kind) {
    case 'window': {
      const hold = plan.windows[result.index] as WindowHold;
      const { limit, amount } = hold.check;
      if (amount > limit) {
        return new AppError(
          'rate_limit_exceeded',
          `this request may use up to ${amount} tokens, more than the limit of ${limit} tokens per minute of ${hold.holder.label}; lower max_tokens or the prompt`,
        );
      }
      return new AppError(
        'rate_limit_exceeded',
        `rate limit of ${hold.holder.label} reached: ${limit} ${hold.unit} per minute${retry}`,
        retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
      );
    }
    case 'slot': {
      const hold = plan.slots[result.index] as SlotHold;
      return new AppError(
        'rate_limit_exceeded',
        `concurrency limit of ${hold.holder.label} reached: ${hold.check.limit} requests at once${retry}`,
        { retryAfterSeconds: retryAfterSeconds ?? 1 },
      );
    }
    case 'budget': {
      const hold = plan.budgets[result.index] as BudgetHold;
      const { spec, bounds } = hold;
      const resets = bounds.end === null ? '' : `; it resets at ${new Date(bounds.end).toISOString()}`;
      const needs = demand.metered ? ` (this request reserves up to ${hold.check.amount} micro-USD)` : '';
      return new AppError(
        'budget_exceeded',
        `budget of ${spec.holder.label} exhausted: ${hold.check.limit} micro-USD ${periodNames[spec.period]}${needs}${resets}`,
        bounds.end === null ? {} : { retryAfterSeconds: Math.max(1, Math.ceil((bounds.end - now) / 1000)) },
      );
    }
  }
}

const periodNames: Readonly<Record<BudgetPeriod, string>> = {
  day: 'per day',
  week: 'per week',
  month: 'per month',
  total: 'in all',
};

function headersFor(windows: readonly WindowHold[], states: readonly WindowState[]): RateLimitHeaders {
  let requests: RateLimitHeaders['requests'];
  let tokens: RateLimitHeaders['tokens'];
  windows.forEach((hold, index) => {
    const state = states[index];
    if (!state) return;
    const figures = { limit: hold.check.limit, remaining: state.remaining, resetMs: state.resetMs };
    if (hold.unit === 'requests') {
      if (!requests || figures.remaining < requests.remaining) requests = figures;
    } else if (!tokens || figures.remaining < tokens.remaining) {
      tokens = figures;
    }
  });
  return { ...(requests ? { requests } : {}), ...(tokens ? { tokens } : {}) };
}
