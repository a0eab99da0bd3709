export { trafficSubjectTypes, budgetPeriods, defaultAlertThresholds } from './traffic-types.ts';
export type {
  TrafficSubjectType,
  BudgetPeriod,
  TrafficSubject,
  LimitRule,
  BudgetRule,
  OrgTrafficPolicy,
  PeriodBounds,
  SpendOwner,
  BudgetAlert,
} from './traffic-types.ts';
export { periodBounds, isValidTimeZone, defaultTimeZone } from './period-bounds.ts';
export {
  TrafficService,
  deleteTrafficRulesWithin,
  bumpTrafficEpochWithin,
  timeZoneOfSettings,
  maxPerMinuteLimit,
  maxConcurrencyLimit,
  maxModelNameLength,
  maxAlertThresholds,
  maxAlertThreshold,
} from './traffic-service.ts';
export type {
  TrafficServiceOptions,
  TrafficAccessRules,
  SubjectInput,
  LimitInput,
  LimitPatch,
  BudgetInput,
  BudgetPatch,
  LimitView,
  BudgetView,
  TrafficListFilters,
  AlertListFilters,
} from './traffic-service.ts';
export { trafficEpochName, ruleSortFields, alertSortFields } from './traffic-repository.ts';
export type { RuleSortField, AlertSortField } from './traffic-repository.ts';
