import Type from 'typebox';
import {
  budgetPeriods,
  maxAlertThreshold,
  maxAlertThresholds,
  maxConcurrencyLimit,
  maxModelNameLength,
  maxPerMinuteLimit,
  trafficSubjectTypes,
  type BudgetAlert,
  type BudgetView,
  type LimitView,
} from '../../modules/traffic/index.ts';
import type { BudgetStatus } from '../api-context.ts';
import { OrgParamsSchema, listQueryFields, sortQueryField } from './tenancy-schemas.ts';

/** Request and response shapes of the limit, budget and budget-alert routes. Times are epoch milliseconds. */

const nullable = <Schema extends Type.TSchema>(schema: Schema, description?: string) =>
  Type.Union([schema, Type.Null()], description === undefined ? {} : { description });
const EpochMs = Type.Integer({ description: 'Epoch milliseconds' });

const SubjectTypeSchema = Type.Enum([...trafficSubjectTypes]);
const SubjectSchema = Type.Object(
  {
    type: SubjectTypeSchema,
    id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "The organization's own id, a team's id, or a member's user id",
    }),
  },
  { additionalProperties: false, description: 'Whom the rule applies to: every key of the organization, team or user' },
);
const PeriodSchema = Type.Enum([...budgetPeriods], {
  description: "day, ISO week (from Monday) or month in the organization's time zone (settings.time_zone), or total",
});

const PerMinute = (description: string) =>
  Type.Optional(nullable(Type.Integer({ minimum: 1, maximum: maxPerMinuteLimit }), description));
const limitFields = {
  model: Type.Optional(
    nullable(
      Type.String({ minLength: 1, maxLength: maxModelNameLength }),
      'A public model name the rule is for; null or absent: every model',
    ),
  ),
  rpm_limit: PerMinute('Requests per minute'),
  tpm_limit: PerMinute('Tokens per minute'),
  concurrency_limit: Type.Optional(
    nullable(Type.Integer({ minimum: 1, maximum: maxConcurrencyLimit }), 'Requests in flight at once'),
  ),
};

export const LimitCreateSchema = Type.Object(
  { subject: SubjectSchema, ...limitFields },
  { additionalProperties: false, description: 'At least one of rpm_limit, tpm_limit and concurrency_limit' },
);
export type LimitCreateBody = Type.Static<typeof LimitCreateSchema>;

export const LimitPatchSchema = Type.Object(
  { subject: Type.Optional(SubjectSchema), ...limitFields },
  { additionalProperties: false, minProperties: 1 },
);
export type LimitPatchBody = Type.Static<typeof LimitPatchSchema>;

const AmountSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'micro-USD' });
const ThresholdsSchema = Type.Array(Type.Integer({ minimum: 1, maximum: maxAlertThreshold }), {
  maxItems: maxAlertThresholds,
  description: 'Percentages of the amount at which an alert is raised once per period (default 50, 80, 100)',
});

export const BudgetCreateSchema = Type.Object(
  {
    subject: SubjectSchema,
    amount_micros: AmountSchema,
    period: PeriodSchema,
    alert_thresholds: Type.Optional(ThresholdsSchema),
  },
  { additionalProperties: false },
);
export type BudgetCreateBody = Type.Static<typeof BudgetCreateSchema>;

export const BudgetPatchSchema = Type.Object(
  {
    subject: Type.Optional(SubjectSchema),
    amount_micros: Type.Optional(AmountSchema),
    period: Type.Optional(PeriodSchema),
    alert_thresholds: Type.Optional(ThresholdsSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type BudgetPatchBody = Type.Static<typeof BudgetPatchSchema>;

export const LimitParamsSchema = Type.Object({
  ...OrgParamsSchema.properties,
  limit_id: Type.String({ minLength: 1, maxLength: 128 }),
});
export type LimitParams = Type.Static<typeof LimitParamsSchema>;

export const BudgetParamsSchema = Type.Object({
  ...OrgParamsSchema.properties,
  budget_id: Type.String({ minLength: 1, maxLength: 128 }),
});
export type BudgetParams = Type.Static<typeof BudgetParamsSchema>;

const subjectFilters = {
  subject_type: Type.Optional(SubjectTypeSchema),
  subject_id: Type.Optional(Type.String({ maxLength: 128 })),
};

export const RuleListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(['created_at'], 'created_at'),
  ...subjectFilters,
});
export type RuleListQuery = Type.Static<typeof RuleListQuerySchema>;

export const AlertListQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(['created_at'], '-created_at'),
  subject_type: Type.Optional(Type.Enum(['key', ...trafficSubjectTypes])),
  subject_id: Type.Optional(Type.String({ maxLength: 128 })),
});
export type AlertListQuery = Type.Static<typeof AlertListQuerySchema>;

const SubjectOutSchema = Type.Object({ type: SubjectTypeSchema, id: Type.String() });

export const LimitSchema = Type.Object({
  id: Type.String(),
  org_id: Type.String(),
  subject: SubjectOutSchema,
  model: nullable(Type.String(), 'null: every model'),
  rpm_limit: nullable(Type.Integer()),
  tpm_limit: nullable(Type.Integer()),
  concurrency_limit: nullable(Type.Integer()),
  created_at: EpochMs,
  updated_at: EpochMs,
});

export const BudgetSchema = Type.Object({
  id: Type.String(),
  org_id: Type.String(),
  subject: SubjectOutSchema,
  amount_micros: Type.Integer(),
  period: PeriodSchema,
  alert_thresholds: Type.Array(Type.Integer()),
  spent_micros: Type.Integer({ description: 'Spent in the current period' }),
  reserved_micros: Type.Integer({ description: 'Held for requests still in flight' }),
  remaining_micros: Type.Integer({ description: 'amount - spent - reserved, never below 0' }),
  period_start: EpochMs,
  resets_at: nullable(EpochMs, 'When the period ends and spend starts again from zero; null for total'),
  created_at: EpochMs,
  updated_at: EpochMs,
});

export const BudgetAlertSchema = Type.Object({
  id: Type.String(),
  budget_ref: Type.String({ description: "The budget's id, or key:<id> for a key's own budget" }),
  subject: Type.Object({ type: Type.Enum(['key', ...trafficSubjectTypes]), id: Type.String() }),
  threshold: Type.Integer({ description: 'Percent of the amount' }),
  amount_micros: Type.Integer(),
  spent_micros: Type.Integer({ description: 'Spend when the threshold was crossed' }),
  period_start: EpochMs,
  created_at: EpochMs,
});

export function presentLimit(limit: LimitView): Type.Static<typeof LimitSchema> {
  return {
    id: limit.id,
    org_id: limit.orgId,
    subject: { type: limit.subject.type, id: limit.subject.id },
    model: limit.model,
    rpm_limit: limit.rpmLimit,
    tpm_limit: limit.tpmLimit,
    concurrency_limit: limit.concurrencyLimit,
    created_at: limit.createdAt,
    updated_at: limit.updatedAt,
  };
}

export function presentBudget(budget: BudgetView, status: BudgetStatus): Type.Static<typeof BudgetSchema> {
  return {
    id: budget.id,
    org_id: budget.orgId,
    subject: { type: budget.subject.type, id: budget.subject.id },
    amount_micros: budget.amountMicros,
    period: budget.period,
    alert_thresholds: [...budget.alertThresholds],
    spent_micros: status.spentMicros,
    reserved_micros: status.reservedMicros,
    remaining_micros: Math.max(0, budget.amountMicros - status.spentMicros - status.reservedMicros),
    period_start: status.periodStart,
    resets_at: status.resetsAt,
    created_at: budget.createdAt,
    updated_at: budget.updatedAt,
  };
}

export function presentAlert(alert: BudgetAlert): Type.Static<typeof BudgetAlertSchema> {
  return {
    id: alert.id,
    budget_ref: alert.budgetRef,
    subject: { type: alert.subjectType, id: alert.subjectId },
    threshold: alert.threshold,
    amount_micros: alert.amountMicros,
    spent_micros: alert.spentMicros,
    period_start: alert.periodStart,
    created_at: alert.createdAt,
  };
}
