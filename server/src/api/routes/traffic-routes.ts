import {
  TrafficService,
  alertSortFields,
  ruleSortFields,
  type BudgetView,
  type LimitPatch,
} from '../../modules/traffic/index.ts';
import type { ApiContext, ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import {
  NoContentSchema,
  OrgParamsSchema,
  pageOf,
  problemResponses,
  readListWindow,
  type OrgParams,
} from './tenancy-schemas.ts';
import {
  AlertListQuerySchema,
  BudgetAlertSchema,
  BudgetCreateSchema,
  BudgetParamsSchema,
  BudgetPatchSchema,
  BudgetSchema,
  LimitCreateSchema,
  LimitParamsSchema,
  LimitPatchSchema,
  LimitSchema,
  RuleListQuerySchema,
  presentAlert,
  presentBudget,
  presentLimit,
  type AlertListQuery,
  type BudgetCreateBody,
  type BudgetParams,
  type BudgetPatchBody,
  type LimitCreateBody,
  type LimitParams,
  type LimitPatchBody,
  type RuleListQuery,
} from './traffic-schemas.ts';

const visibility =
  "Every member sees the organization's and teams' rules and their own; owners, admins and billing see everyone's " +
  "(traffic.read.all). Another member's rule is 404 to the rest.";

/**
 * Traffic control of an organization under /api/v1/organizations/{org_id}: rate and concurrency limits
 * (`/limits`), budgets with their live spend (`/budgets`) and the alerts budgets raised (`/budget-alerts`). Key-level
 * limits are set on the key itself. Changes reach every instance within one poll of the `traffic` epoch.
 */
export const registerTrafficRoutes: ApiRoutes = (api, context) => {
  const traffic = new TrafficService({ db: context.db, access: context.authorizer });
  registerLimitRoutes(api, context, traffic);
  registerBudgetRoutes(api, context, traffic);

  api.get<{ Params: OrgParams; Querystring: AlertListQuery }>(
    '/organizations/:org_id/budget-alerts',
    {
      schema: {
        tags: ['budgets'],
        summary: 'Budget threshold alerts, newest first',
        description: `Each threshold of a budget (or of a key's own budget) is raised once per period. ${visibility}`,
        params: OrgParamsSchema,
        querystring: AlertListQuerySchema,
        response: { 200: pageOf(BudgetAlertSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'traffic.read');
      const { page, window } = readListWindow(request.query, alertSortFields, {
        field: 'created_at',
        direction: 'desc',
      });
      const alerts = await traffic.listAlerts(
        scope,
        { subjectType: request.query.subject_type, subjectId: request.query.subject_id },
        window,
      );
      return toPage(alerts, page, (alert) => [alert.createdAt, alert.id], presentAlert);
    },
  );
};

function registerLimitRoutes(api: Parameters<ApiRoutes>[0], context: ApiContext, traffic: TrafficService): void {
  const tags = ['limits'];

  api.get<{ Params: OrgParams; Querystring: RuleListQuery }>(
    '/organizations/:org_id/limits',
    {
      schema: {
        tags,
        summary: 'List rate and concurrency limits',
        description: visibility,
        params: OrgParamsSchema,
        querystring: RuleListQuerySchema,
        response: { 200: pageOf(LimitSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'traffic.read');
      const { page, window } = readListWindow(request.query, ruleSortFields, { field: 'created_at', direction: 'asc' });
      const limits = await traffic.listLimits(
        scope,
        { subjectType: request.query.subject_type, subjectId: request.query.subject_id },
        window,
      );
      return toPage(limits, page, (limit) => [limit.createdAt, limit.id], presentLimit);
    },
  );

  api.post<{ Params: OrgParams; Body: LimitCreateBody }>(
    '/organizations/:org_id/limits',
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: 'Add a limit for the organization, a team or a member, for every model or one',
        description: 'One rule per subject and model (409 for a second). Requests beyond it are answered 429.',
        params: OrgParamsSchema,
        body: LimitCreateSchema,
        response: { 201: LimitSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'limits.manage');
      const { body } = request;
      const created = await traffic.createLimit(scope, {
        subject: body.subject,
        model: body.model,
        rpmLimit: body.rpm_limit,
        tpmLimit: body.tpm_limit,
        concurrencyLimit: body.concurrency_limit,
      });
      return reply.code(201).send(presentLimit(created));
    },
  );

  api.get<{ Params: LimitParams }>(
    '/organizations/:org_id/limits/:limit_id',
    {
      schema: {
        tags,
        summary: 'Read a limit',
        params: LimitParamsSchema,
        response: { 200: LimitSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'traffic.read');
      return presentLimit(await traffic.getLimit(scope, request.params.limit_id));
    },
  );

  api.patch<{ Params: LimitParams; Body: LimitPatchBody }>(
    '/organizations/:org_id/limits/:limit_id',
    {
      schema: {
        tags,
        summary: 'Change a limit; null clears one of its limits (at least one must remain)',
        params: LimitParamsSchema,
        body: LimitPatchSchema,
        response: { 200: LimitSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'limits.manage');
      const { body } = request;
      const patch: LimitPatch = {
        ...(body.subject === undefined ? {} : { subject: body.subject }),
        ...(body.model === undefined ? {} : { model: body.model }),
        ...(body.rpm_limit === undefined ? {} : { rpmLimit: body.rpm_limit }),
        ...(body.tpm_limit === undefined ? {} : { tpmLimit: body.tpm_limit }),
        ...(body.concurrency_limit === undefined ? {} : { concurrencyLimit: body.concurrency_limit }),
      };
      return presentLimit(await traffic.updateLimit(scope, request.params.limit_id, patch));
    },
  );

  api.delete<{ Params: LimitParams }>(
    '/organizations/:org_id/limits/:limit_id',
    {
      schema: {
        tags,
        summary: 'Remove a limit',
        params: LimitParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'limits.manage');
      await traffic.deleteLimit(scope, request.params.limit_id);
      return reply.code(204).send();
    },
  );
}

function registerBudgetRoutes(api: Parameters<ApiRoutes>[0], context: ApiContext, traffic: TrafficService): void {
  const tags = ['budgets'];
  const present = async (budget: BudgetView) => presentBudget(budget, await context.traffic.budgetStatus(budget));

  api.get<{ Params: OrgParams; Querystring: RuleListQuery }>(
    '/organizations/:org_id/budgets',
    {
      schema: {
        tags,
        summary: 'List budgets with their spend in the current period',
        description: visibility,
        params: OrgParamsSchema,
        querystring: RuleListQuerySchema,
        response: { 200: pageOf(BudgetSchema), ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'traffic.read');
      const { page, window } = readListWindow(request.query, ruleSortFields, { field: 'created_at', direction: 'asc' });
      const budgets = await traffic.listBudgets(
        scope,
        { subjectType: request.query.subject_type, subjectId: request.query.subject_id },
        window,
      );
      const listed = toPage(
        budgets,
        page,
        (budget) => [budget.createdAt, budget.id],
        (budget) => budget,
      );
      return { data: await Promise.all(listed.data.map(present)), next_cursor: listed.next_cursor };
    },
  );

  api.post<{ Params: OrgParams; Body: BudgetCreateBody }>(
    '/organizations/:org_id/budgets',
    {
      config: { idempotent: true },
      schema: {
        tags,
        summary: 'Add a budget for the organization, a team or a member',
        description:
          'One budget per subject and period (409 for a second). An amount below what was spent already is ' +
          'accepted: requests are refused (429) from then on.',
        params: OrgParamsSchema,
        body: BudgetCreateSchema,
        response: { 201: BudgetSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'budgets.manage');
      const { body } = request;
      const created = await traffic.createBudget(scope, {
        subject: body.subject,
        amountMicros: body.amount_micros,
        period: body.period,
        alertThresholds: body.alert_thresholds,
      });
      return reply.code(201).send(await present(created));
    },
  );

  api.get<{ Params: BudgetParams }>(
    '/organizations/:org_id/budgets/:budget_id',
    {
      schema: {
        tags,
        summary: 'Read a budget with its spend in the current period',
        params: BudgetParamsSchema,
        response: { 200: BudgetSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'traffic.read');
      return present(await traffic.getBudget(scope, request.params.budget_id));
    },
  );

  api.patch<{ Params: BudgetParams; Body: BudgetPatchBody }>(
    '/organizations/:org_id/budgets/:budget_id',
    {
      schema: {
        tags,
        summary: 'Change a budget',
        params: BudgetParamsSchema,
        body: BudgetPatchSchema,
        response: { 200: BudgetSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'budgets.manage');
      const { body } = request;
      const updated = await traffic.updateBudget(scope, request.params.budget_id, {
        ...(body.subject === undefined ? {} : { subject: body.subject }),
        ...(body.amount_micros === undefined ? {} : { amountMicros: body.amount_micros }),
        ...(body.period === undefined ? {} : { period: body.period }),
        ...(body.alert_thresholds === undefined ? {} : { alertThresholds: body.alert_thresholds }),
      });
      return present(updated);
    },
  );

  api.delete<{ Params: BudgetParams }>(
    '/organizations/:org_id/budgets/:budget_id',
    {
      schema: {
        tags,
        summary: 'Remove a budget',
        params: BudgetParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'budgets.manage');
      await traffic.deleteBudget(scope, request.params.budget_id);
      return reply.code(204).send();
    },
  );
}
