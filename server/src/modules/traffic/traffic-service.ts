import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { DatabaseSchema } from '../../db/schema.ts';
import { conflictOnDuplicate } from '../../db/unique-violation.ts';
import { AppError } from '../../errors/app-error.ts';
import { newTimeOrderedId } from '../../lib/ids.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { ListWindow, OrgScope } from '../shared/index.ts';
import { defaultTimeZone, isValidTimeZone } from './period-bounds.ts';
import {
  TrafficRepository,
  type AlertSortField,
  type BudgetAlertRow,
  type BudgetRow,
  type LimitRow,
  type RuleSortField,
} from './traffic-repository.ts';
import {
  budgetPeriods,
  defaultAlertThresholds,
  trafficSubjectTypes,
  type BudgetAlert,
  type BudgetPeriod,
  type BudgetRule,
  type LimitRule,
  type OrgTrafficPolicy,
  type SpendOwner,
  type TrafficSubject,
  type TrafficSubjectType,
} from './traffic-types.ts';

/** Per-minute limits are 32-bit integer columns; concurrency beyond this is no limit in practice. */
export const maxPerMinuteLimit = 2_147_483_647;
export const maxConcurrencyLimit = 100_000;
export const maxModelNameLength = 200;
export const maxAlertThresholds = 10;
export const maxAlertThreshold = 1000;

/** A subject as a caller names it, unvalidated. */
export interface SubjectInput {
  readonly type: string;
  readonly id: string;
}

export interface LimitInput {
  readonly subject: SubjectInput;
  /** A public model name, or null/absent for every model. */
  readonly model?: string | null | undefined;
  readonly rpmLimit?: number | null | undefined;
  readonly tpmLimit?: number | null | undefined;
  readonly concurrencyLimit?: number | null | undefined;
}

/** A partial change; `null` clears a limit (at least one must remain). */
export type LimitPatch = Partial<LimitInput>;

export interface BudgetInput {
  readonly subject: SubjectInput;
  readonly amountMicros: number;
  readonly period: string;
  readonly alertThresholds?: readonly number[] | undefined;
}

export type BudgetPatch = Partial<BudgetInput>;

export interface LimitView extends LimitRule {
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface BudgetView extends BudgetRule {
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface TrafficListFilters {
  readonly subjectType?: TrafficSubjectType | undefined;
  readonly subjectId?: string | undefined;
}

export interface AlertListFilters {
  readonly subjectType?: 'key' | TrafficSubjectType | undefined;
  readonly subjectId?: string | undefined;
}

/**
 * Who may see what (the tenancy Authorizer, injected because tenancy imports this module): callers without it see
 * only the organization's and teams' rules and their own user rules.
 */
export interface TrafficAccessRules {
  mayReadAllTraffic(scope: OrgScope): boolean;
}

export interface TrafficServiceOptions {
  readonly db: Database;
  readonly now?: () => number;
  /** Needed by the management methods; the gateway's reads work without. */
  readonly access?: TrafficAccessRules;
}

/**
 * Limits and budgets of an organization's subjects, the alerts budgets raise, and the reads the gateway's traffic
 * control makes. Every change is one transaction with its audit event and a bump of the `traffic` epoch, so every
 * instance reloads the organization's policy within one poll.
 */
export class TrafficService {
  readonly #repository: TrafficRepository;
  readonly #now: () => number;
  readonly #access: TrafficAccessRules | undefined;

  constructor(options: TrafficServiceOptions) {
    this.#repository = new TrafficRepository(options.db);
    this.#now = options.now ?? Date.now;
    this.#access = options.access;
  }

  // --- For the gateway ---------------------------------------------------------------------------------------------

  /** The `traffic` epoch; cheap, polled by every instance. */
  readEpoch(): Promise<number> {
    return this.#repository.readEpoch();
  }

  /** The organization's time zone and every rule; an organization that is gone has none. */
  async loadOrgPolicy(orgId: string): Promise<OrgTrafficPolicy> {
    const [settings, rows] = await Promise.all([
      this.#repository.findOrganizationSettings(orgId),
      this.#repository.listPolicyRows(orgId),
    ]);
    if (settings === undefined) return { orgId, timeZone: defaultTimeZone, limits: [], budgets: [] };
    return {
      orgId,
      timeZone: timeZoneOfSettings(settings),
      limits: rows.limits.map(toLimitRule),
      budgets: rows.budgets.map(toBudgetRule),
    };
  }

  /** The cost of the owner's usage records since `from` (epoch ms). */
  sumSpend(owner: SpendOwner, from: number): Promise<number> {
    return this.#repository.sumSpend(owner, from);
  }

  /** Stores a threshold alert unless it was raised already for that budget, period and threshold; true when new. */
  recordAlert(alert: Omit<BudgetAlert, 'id' | 'createdAt'>): Promise<boolean> {
    const now = this.#now();
    return this.#repository.insertAlert({
      id: newTimeOrderedId(now),
      org_id: alert.orgId,
      budget_ref: alert.budgetRef,
      subject_type: alert.subjectType,
      subject_id: alert.subjectId,
      period_start: alert.periodStart,
      threshold: alert.threshold,
      amount_micros: alert.amountMicros,
      spent_micros: alert.spentMicros,
      created_at: now,
    });
  }

  /** Records that `instanceId` is alive; rows silent for a day are dropped on the way. */
  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.#repository.heartbeat(instanceId, now);
    await this.#repository.forgetInstancesBefore(now - 86_400_000);
  }

  /** Instances that beat within `staleMs` of `now`. */
  countLiveInstances(now: number, staleMs: number): Promise<number> {
    return this.#repository.countLiveInstances(now - staleMs);
  }

  /** On shutdown: the others stop counting this instance at once. */
  forgetInstance(instanceId: string): Promise<void> {
    return this.#repository.forgetInstance(instanceId);
  }

  // --- Limits ------------------------------------------------------------------------------------------------------

  /** Up to `window.limit + 1` rules (the extra one tells the caller another page exists). */
  async listLimits(
    scope: OrgScope,
    filters: TrafficListFilters,
    window: ListWindow<RuleSortField>,
  ): Promise<LimitView[]> {
    const rows = await this.#repository.listLimits(scope, this.#visibleFilters(scope, filters), window);
    return rows.map(toLimitView);
  }

  async getLimit(scope: OrgScope, id: string): Promise<LimitView> {
    return toLimitView(await this.#findLimit(this.#repository, scope, id));
  }

  async createLimit(scope: OrgScope, input: LimitInput): Promise<LimitView> {
    const subject = checkSubject(input.subject);
    const model = checkModel(input.model);
    const limits = checkLimits(input, { rpmLimit: null, tpmLimit: null, concurrencyLimit: null });
    const now = this.#now();
    const duplicate = 'a limit for this subject and model already exists';
    return conflictOnDuplicate(
      this.#repository.transaction(async (traffic, executor) => {
        await this.#assertSubject(traffic, scope, subject);
        if (await traffic.findLimitFor(scope, subject, model ?? '')) throw new AppError('conflict', duplicate);
        const id = newTimeOrderedId(now);
        await traffic.insertLimit({
          id,
          org_id: scope.orgId,
          subject_type: subject.type,
          subject_id: subject.id,
          model: model ?? '',
          rpm_limit: limits.rpmLimit,
          tpm_limit: limits.tpmLimit,
          concurrency_limit: limits.concurrencyLimit,
          created_at: now,
          updated_at: now,
        });
        const view = toLimitView(await this.#findLimit(traffic, scope, id));
        await traffic.bumpEpoch();
        await audit(executor, scope, 'traffic_limit.create', 'traffic_limit', id, undefined, limitAudit(view), now);
        return view;
      }),
      duplicate,
    );
  }

  async updateLimit(scope: OrgScope, id: string, patch: LimitPatch): Promise<LimitView> {
    const now = this.#now();
    const duplicate = 'a limit for this subject and model already exists';
    return conflictOnDuplicate(
      this.#repository.transaction(async (traffic, executor) => {
        const before = toLimitView(await this.#findLimit(traffic, scope, id));
        const subject = patch.subject === undefined ? before.subject : checkSubject(patch.subject);
        const model = patch.model === undefined ? before.model : checkModel(patch.model);
        const limits = checkLimits(patch, before);
        if (patch.subject !== undefined) await this.#assertSubject(traffic, scope, subject);
        const other = await traffic.findLimitFor(scope, subject, model ?? '');
        if (other !== undefined && other.id !== id) throw new AppError('conflict', duplicate);
        await traffic.updateLimit(scope, id, {
          subject_type: subject.type,
          subject_id: subject.id,
          model: model ?? '',
          rpm_limit: limits.rpmLimit,
          tpm_limit: limits.tpmLimit,
          concurrency_limit: limits.concurrencyLimit,
          updated_at: now,
        });
        const view = toLimitView(await this.#findLimit(traffic, scope, id));
        await traffic.bumpEpoch();
        await audit(
          executor,
          scope,
          'traffic_limit.update',
          'traffic_limit',
          id,
          limitAudit(before),
          limitAudit(view),
          now,
        );
        return view;
      }),
      duplicate,
    );
  }

  async deleteLimit(scope: OrgScope, id: string): Promise<void> {
    const now = this.#now();
    await this.#repository.transaction(async (traffic, executor) => {
      const before = toLimitView(await this.#findLimit(traffic, scope, id));
      await traffic.deleteLimit(scope, id);
      await traffic.bumpEpoch();
      await audit(executor, scope, 'traffic_limit.delete', 'traffic_limit', id, limitAudit(before), undefined, now);
    });
  }

  // --- Budgets -----------------------------------------------------------------------------------------------------

  async listBudgets(
    scope: OrgScope,
    filters: TrafficListFilters,
    window: ListWindow<RuleSortField>,
  ): Promise<BudgetView[]> {
    const rows = await this.#repository.listBudgets(scope, this.#visibleFilters(scope, filters), window);
    return rows.map(toBudgetView);
  }

  async getBudget(scope: OrgScope, id: string): Promise<BudgetView> {
    return toBudgetView(await this.#findBudget(this.#repository, scope, id));
  }

  /** A budget below what the subject has spent already is accepted: the gateway then refuses at once. */
  async createBudget(scope: OrgScope, input: BudgetInput): Promise<BudgetView> {
    const subject = checkSubject(input.subject);
    const amountMicros = checkAmount(input.amountMicros);
    const period = checkPeriod(input.period);
    const thresholds = checkThresholds(input.alertThresholds ?? defaultAlertThresholds);
    const now = this.#now();
    const duplicate = 'a budget for this subject and period already exists';
    return conflictOnDuplicate(
      this.#repository.transaction(async (traffic, executor) => {
        await this.#assertSubject(traffic, scope, subject);
        if (await traffic.findBudgetFor(scope, subject, period)) throw new AppError('conflict', duplicate);
        const id = newTimeOrderedId(now);
        await traffic.insertBudget({
          id,
          org_id: scope.orgId,
          subject_type: subject.type,
          subject_id: subject.id,
          amount_micros: amountMicros,
          period,
          alert_thresholds: JSON.stringify(thresholds),
          created_at: now,
          updated_at: now,
        });
        const view = toBudgetView(await this.#findBudget(traffic, scope, id));
        await traffic.bumpEpoch();
        await audit(executor, scope, 'budget.create', 'budget', id, undefined, budgetAudit(view), now);
        return view;
      }),
      duplicate,
    );
  }

  async updateBudget(scope: OrgScope, id: string, patch: BudgetPatch): Promise<BudgetView> {
    const now = this.#now();
    const duplicate = 'a budget for this subject and period already exists';
    return conflictOnDuplicate(
      this.#repository.transaction(async (traffic, executor) => {
        const before = toBudgetView(await this.#findBudget(traffic, scope, id));
        const subject = patch.subject === undefined ? before.subject : checkSubject(patch.subject);
        const amountMicros = patch.amountMicros === undefined ? before.amountMicros : checkAmount(patch.amountMicros);
        const period = patch.period === undefined ? before.period : checkPeriod(patch.period);
        const thresholds =
          patch.alertThresholds === undefined ? before.alertThresholds : checkThresholds(patch.alertThresholds);
        if (patch.subject !== undefined) await this.#assertSubject(traffic, scope, subject);
        const other = await traffic.findBudgetFor(scope, subject, period);
        if (other !== undefined && other.id !== id) throw new AppError('conflict', duplicate);
        await traffic.updateBudget(scope, id, {
          subject_type: subject.type,
          subject_id: subject.id,
          amount_micros: amountMicros,
          period,
          alert_thresholds: JSON.stringify(thresholds),
          updated_at: now,
        });
        const view = toBudgetView(await this.#findBudget(traffic, scope, id));
        await traffic.bumpEpoch();
        await audit(executor, scope, 'budget.update', 'budget', id, budgetAudit(before), budgetAudit(view), now);
        return view;
      }),
      duplicate,
    );
  }

  async deleteBudget(scope: OrgScope, id: string): Promise<void> {
    const now = this.#now();
    await this.#repository.transaction(async (traffic, executor) => {
      const before = toBudgetView(await this.#findBudget(traffic, scope, id));
      await traffic.deleteBudget(scope, id);
      await traffic.bumpEpoch();
      await audit(executor, scope, 'budget.delete', 'budget', id, budgetAudit(before), undefined, now);
    });
  }

  // --- Alerts ------------------------------------------------------------------------------------------------------

  /** Newest first by default; callers who may not read everything see alerts of their own user and keys only. */
  async listAlerts(
    scope: OrgScope,
    filters: AlertListFilters,
    window: ListWindow<AlertSortField>,
  ): Promise<BudgetAlert[]> {
    const rows = await this.#repository.listAlerts(scope, this.#visibleFilters(scope, filters), window);
    return rows.map(toAlert);
  }

  // --- Internals ---------------------------------------------------------------------------------------------------

  #mayReadAll(scope: OrgScope): boolean {
    if (!this.#access) throw new Error('TrafficService needs access rules (the Authorizer) for management calls');
    return this.#access.mayReadAllTraffic(scope);
  }

  #visibleFilters(
    scope: OrgScope,
    filters: { subjectType?: string | undefined; subjectId?: string | undefined },
  ): { subjectType?: string | undefined; subjectId?: string | undefined; onlyUser?: string | undefined } {
    return this.#mayReadAll(scope) ? filters : { ...filters, onlyUser: scope.actor.userId };
  }

  /** Another member's rule is reported missing to callers who may not see it, like another tenant's. */
  #visible(scope: OrgScope, subjectType: string, subjectId: string): boolean {
    return subjectType !== 'user' || subjectId === scope.actor.userId || this.#mayReadAll(scope);
  }

  async #findLimit(traffic: TrafficRepository, scope: OrgScope, id: string): Promise<LimitRow> {
    const row = await traffic.findLimit(scope, id);
    if (!row || !this.#visible(scope, row.subject_type, row.subject_id)) {
      throw new AppError('not_found', 'limit not found');
    }
    return row;
  }

  async #findBudget(traffic: TrafficRepository, scope: OrgScope, id: string): Promise<BudgetRow> {
    const row = await traffic.findBudget(scope, id);
    if (!row || !this.#visible(scope, row.subject_type, row.subject_id)) {
      throw new AppError('not_found', 'budget not found');
    }
    return row;
  }

  async #assertSubject(traffic: TrafficRepository, scope: OrgScope, subject: TrafficSubject): Promise<void> {
    if (!(await traffic.subjectExists(scope, subject))) {
      const what =
        subject.type === 'organization'
          ? 'an organization subject must be this organization'
          : subject.type === 'team'
            ? 'no team with this id in the organization'
            : 'no member with this id in the organization';
      throw new AppError('invalid_request', `subject: ${what}`, { param: 'subject.id' });
    }
  }
}

/**
 * Removes the limits and budgets of a subject that is going away (a deleted team, a member who left) inside the
 * caller's transaction, and bumps the `traffic` epoch when any went, so no rule outlives its subject.
 */
export async function deleteTrafficRulesWithin(
  executor: Kysely<DatabaseSchema>,
  scope: OrgScope,
  subject: TrafficSubject,
): Promise<number> {
  const traffic = new TrafficRepository(executor);
  const deleted = await traffic.deleteRulesOf(scope, subject);
  if (deleted > 0) await traffic.bumpEpoch();
  return deleted;
}

/** Bumps the `traffic` epoch in another module's transaction (an organization's time zone changed). */
export async function bumpTrafficEpochWithin(executor: Kysely<DatabaseSchema>): Promise<void> {
  await new TrafficRepository(executor).bumpEpoch();
}

/**
 * The time zone stored in an organization's settings JSON (`time_zone`, kept by the tenancy settings, which validate
 * it); anything missing or unknown to this runtime reads as UTC, so a policy always loads.
 */
export function timeZoneOfSettings(settingsJson: string): string {
  try {
    const parsed: unknown = JSON.parse(settingsJson);
    if (parsed !== null && typeof parsed === 'object' && 'time_zone' in parsed) {
      const zone = parsed.time_zone;
      if (typeof zone === 'string' && isValidTimeZone(zone)) return zone;
    }
  } catch {
    // Unreadable settings fall back to the default like missing ones.
  }
  return defaultTimeZone;
}

// --- Validation --------------------------------------------------------------------------------------------------

function checkSubject(subject: SubjectInput): TrafficSubject {
  const type = trafficSubjectTypes.find((candidate) => candidate === subject.type);
  if (type === undefined) {
    throw new AppError('invalid_request', `subject.type must be one of ${trafficSubjectTypes.join(', ')}`, {
      param: 'subject.type',
    });
  }
  const id = subject.id.trim();
  if (id === '' || id.length > 128) {
    throw new AppError('invalid_request', 'subject.id must be 1 to 128 characters', { param: 'subject.id' });
  }
  return { type, id };
}

function checkModel(model: string | null | undefined): string | null {
  if (model === undefined || model === null) return null;
  const trimmed = model.trim();
  if (trimmed === '' || trimmed.length > maxModelNameLength) {
    throw new AppError(
      'invalid_request',
      `model must be a model name of 1 to ${maxModelNameLength} characters, or null for every model`,
      { param: 'model' },
    );
  }
  return trimmed;
}

interface LimitValues {
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly concurrencyLimit: number | null;
}

function checkLimits(patch: Partial<LimitValues>, current: LimitValues): LimitValues {
  const pick = (value: number | null | undefined, fallback: number | null, param: string, maximum: number) =>
    value === undefined ? fallback : checkCount(value, param, maximum);
  const limits = {
    rpmLimit: pick(patch.rpmLimit, current.rpmLimit, 'rpm_limit', maxPerMinuteLimit),
    tpmLimit: pick(patch.tpmLimit, current.tpmLimit, 'tpm_limit', maxPerMinuteLimit),
    concurrencyLimit: pick(patch.concurrencyLimit, current.concurrencyLimit, 'concurrency_limit', maxConcurrencyLimit),
  };
  if (limits.rpmLimit === null && limits.tpmLimit === null && limits.concurrencyLimit === null) {
    throw new AppError('invalid_request', 'set at least one of rpm_limit, tpm_limit and concurrency_limit', {
      param: 'rpm_limit',
    });
  }
  return limits;
}

function checkCount(value: number | null, param: string, maximum: number): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value) || value < 1 || value > maximum) {
    throw new AppError('invalid_request', `${param} must be an integer from 1 to ${maximum}`, { param });
  }
  return value;
}

function checkAmount(amount: number): number {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new AppError('invalid_request', `amount_micros must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`, {
      param: 'amount_micros',
    });
  }
  return amount;
}

function checkPeriod(period: string): BudgetPeriod {
  const match = budgetPeriods.find((candidate) => candidate === period);
  if (match === undefined) {
    throw new AppError('invalid_request', `period must be one of ${budgetPeriods.join(', ')}`, { param: 'period' });
  }
  return match;
}

/** Percentages of the amount, 1 to 1000 (alerts past the budget are useful for `total` budgets that keep running). */
function checkThresholds(thresholds: readonly number[]): number[] {
  if (thresholds.length > maxAlertThresholds) {
    throw new AppError('invalid_request', `alert_thresholds takes at most ${maxAlertThresholds} entries`, {
      param: 'alert_thresholds',
    });
  }
  thresholds.forEach((threshold, index) => {
    if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > maxAlertThreshold) {
      throw new AppError(
        'invalid_request',
        `alert_thresholds[${index}] must be a whole percentage from 1 to ${maxAlertThreshold}`,
        { param: `alert_thresholds[${index}]` },
      );
    }
  });
  return [...new Set(thresholds)].sort((left, right) => left - right);
}

// --- Rows and views ----------------------------------------------------------------------------------------------

function subjectOf(row: { subject_type: string; subject_id: string }): TrafficSubject {
  // Rows are written only through checkSubject; an unknown type would be a foreign write, read as the organization's.
  const type = trafficSubjectTypes.find((candidate) => candidate === row.subject_type) ?? 'organization';
  return { type, id: row.subject_id };
}

function toLimitRule(row: LimitRow): LimitRule {
  return {
    id: row.id,
    orgId: row.org_id,
    subject: subjectOf(row),
    model: row.model === '' ? null : row.model,
    rpmLimit: row.rpm_limit,
    tpmLimit: row.tpm_limit,
    concurrencyLimit: row.concurrency_limit,
  };
}

function toLimitView(row: LimitRow): LimitView {
  return { ...toLimitRule(row), createdAt: row.created_at, updatedAt: row.updated_at };
}

function toBudgetRule(row: BudgetRow): BudgetRule {
  return {
    id: row.id,
    orgId: row.org_id,
    subject: subjectOf(row),
    amountMicros: Number(row.amount_micros),
    period: budgetPeriods.find((period) => period === row.period) ?? 'total',
    alertThresholds: parseThresholds(row.alert_thresholds),
  };
}

function toBudgetView(row: BudgetRow): BudgetView {
  return { ...toBudgetRule(row), createdAt: row.created_at, updatedAt: row.updated_at };
}

function parseThresholds(json: string): number[] {
  try {
    const parsed: unknown = JSON.parse(json);
    if (Array.isArray(parsed) && parsed.every((value) => typeof value === 'number')) return parsed;
  } catch {
    // Falls through to the defaults below.
  }
  return [...defaultAlertThresholds];
}

function toAlert(row: BudgetAlertRow): BudgetAlert {
  return {
    id: row.id,
    orgId: row.org_id,
    budgetRef: row.budget_ref,
    subjectType: row.subject_type === 'key' ? 'key' : subjectOf(row).type,
    subjectId: row.subject_id,
    periodStart: Number(row.period_start),
    threshold: row.threshold,
    amountMicros: Number(row.amount_micros),
    spentMicros: Number(row.spent_micros),
    createdAt: Number(row.created_at),
  };
}

function limitAudit(view: LimitView): Record<string, unknown> {
  return {
    subject: view.subject,
    model: view.model,
    rpm_limit: view.rpmLimit,
    tpm_limit: view.tpmLimit,
    concurrency_limit: view.concurrencyLimit,
  };
}

function budgetAudit(view: BudgetView): Record<string, unknown> {
  return {
    subject: view.subject,
    amount_micros: view.amountMicros,
    period: view.period,
    alert_thresholds: view.alertThresholds,
  };
}

async function audit(
  executor: Kysely<DatabaseSchema>,
  scope: OrgScope,
  action: string,
  targetType: string,
  targetId: string,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
  now: number,
): Promise<void> {
  await recordAuditEvent(
    executor,
    {
      orgId: scope.orgId,
      actor: scope.actor,
      action,
      targetType,
      targetId,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    },
    now,
  );
}
