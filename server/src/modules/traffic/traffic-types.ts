/**
 * Traffic control as the gateway reads it: the limits and budgets that apply within one organization, loaded once per
 * organization and cached until the `traffic` cache epoch moves. Key-level limits live on the key itself
 * (`rpm_limit`, `tpm_limit`, `concurrency_limit`, `budget_micros` + `budget_period`); these rules cover the groups a
 * key belongs to: its user (within the organization), its team, and the organization.
 */

export const trafficSubjectTypes = ['organization', 'team', 'user'] as const;
export type TrafficSubjectType = (typeof trafficSubjectTypes)[number];

export const budgetPeriods = ['day', 'week', 'month', 'total'] as const;
export type BudgetPeriod = (typeof budgetPeriods)[number];

export const defaultAlertThresholds: readonly number[] = [50, 80, 100];

export interface TrafficSubject {
  readonly type: TrafficSubjectType;
  /** The organization's, team's or user's id. */
  readonly id: string;
}

/** Rate and concurrency limits for a subject, for every model (model null) or for one public model name. */
export interface LimitRule {
  readonly id: string;
  readonly orgId: string;
  readonly subject: TrafficSubject;
  readonly model: string | null;
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly concurrencyLimit: number | null;
}

/** A spending cap for a subject over a period (in the organization's time zone). */
export interface BudgetRule {
  readonly id: string;
  readonly orgId: string;
  readonly subject: TrafficSubject;
  readonly amountMicros: number;
  readonly period: BudgetPeriod;
  /** Percentages of the amount at which an alert is raised, once per period each; ascending. */
  readonly alertThresholds: readonly number[];
}

/** Everything traffic control needs to know about one organization. */
export interface OrgTrafficPolicy {
  readonly orgId: string;
  /** IANA time zone in which days, weeks (from Monday) and months begin; `UTC` by default. */
  readonly timeZone: string;
  readonly limits: readonly LimitRule[];
  readonly budgets: readonly BudgetRule[];
}

/** A budget's current period: [start, end); end null for `total`. */
export interface PeriodBounds {
  readonly start: number;
  readonly end: number | null;
}

/** Who owns a budget, for reading spend from the usage records: a key, or a subject of the organization. */
export type SpendOwner =
  | { readonly type: 'key'; readonly keyId: string }
  | { readonly type: 'organization'; readonly orgId: string }
  | { readonly type: 'team'; readonly orgId: string; readonly teamId: string }
  | { readonly type: 'user'; readonly orgId: string; readonly userId: string };

/** A threshold crossing, raised once per budget, period and threshold. */
export interface BudgetAlert {
  readonly id: string;
  readonly orgId: string | null;
  /** `key:<id>` for a key's own budget, else the budget rule's id. */
  readonly budgetRef: string;
  readonly subjectType: 'key' | TrafficSubjectType;
  readonly subjectId: string;
  readonly periodStart: number;
  readonly threshold: number;
  readonly amountMicros: number;
  readonly spentMicros: number;
  readonly createdAt: number;
}
