import {
  sql,
  type Expression,
  type Insertable,
  type Kysely,
  type Selectable,
  type SqlBool,
  type Updateable,
} from 'kysely';
import type { BudgetAlertsTable, BudgetsTable, DatabaseSchema, TrafficLimitsTable } from '../../db/schema.ts';
import { CacheEpochRepository, pageQuery, type ListWindow, type OrgScope } from '../shared/index.ts';
import type { SpendOwner, TrafficSubject } from './traffic-types.ts';

/** The `cache_epochs` row every instance polls to learn that an organization's limits, budgets or time zone changed. */
export const trafficEpochName = 'traffic';

export type LimitRow = Selectable<TrafficLimitsTable>;
export type BudgetRow = Selectable<BudgetsTable>;
export type BudgetAlertRow = Selectable<BudgetAlertsTable>;

export const ruleSortFields = ['created_at'] as const;
export type RuleSortField = (typeof ruleSortFields)[number];
export const alertSortFields = ['created_at'] as const;
export type AlertSortField = (typeof alertSortFields)[number];

/** Which rules or alerts of an organization a list returns. */
export interface RuleListFilters {
  readonly subjectType?: string | undefined;
  readonly subjectId?: string | undefined;
  /** Hides rules (and alerts) of every user but this one: for callers who may see only their own. */
  readonly onlyUser?: string | undefined;
}

/**
 * SQL for traffic control. Management reads and writes take the caller's OrgScope; what the gateway reads (an
 * organization's policy, spend, alerts, instance heartbeats) is keyed by organization or key id, since it runs
 * without a caller.
 */
export class TrafficRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  /** Runs `work` in one transaction with a repository bound to it; `executor` is for the audit event. */
  transaction<T>(work: (traffic: TrafficRepository, executor: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((transaction) => work(new TrafficRepository(transaction), transaction));
  }

  bumpEpoch(): Promise<void> {
    return new CacheEpochRepository(this.#db, trafficEpochName).bump();
  }

  readEpoch(): Promise<number> {
    return new CacheEpochRepository(this.#db, trafficEpochName).read();
  }

  // --- Subjects ----------------------------------------------------------------------------------------------------

  async subjectExists(scope: OrgScope, subject: TrafficSubject): Promise<boolean> {
    switch (subject.type) {
      case 'organization':
        return subject.id === scope.orgId;
      case 'team': {
        const row = await this.#db
          .selectFrom('teams')
          .select('id')
          .where('org_id', '=', scope.orgId)
          .where('id', '=', subject.id)
          .executeTakeFirst();
        return row !== undefined;
      }
      case 'user': {
        const row = await this.#db
          .selectFrom('org_members')
          .select('user_id')
          .where('org_id', '=', scope.orgId)
          .where('user_id', '=', subject.id)
          .executeTakeFirst();
        return row !== undefined;
      }
    }
  }

  /** Removes every limit and budget of a subject that is going away (a deleted team, a member who left). */
  async deleteRulesOf(scope: OrgScope, subject: TrafficSubject): Promise<number> {
    const limits = await this.#db
      .deleteFrom('traffic_limits')
      .where('org_id', '=', scope.orgId)
      .where('subject_type', '=', subject.type)
      .where('subject_id', '=', subject.id)
      .executeTakeFirst();
    const budgets = await this.#db
      .deleteFrom('budgets')
      .where('org_id', '=', scope.orgId)
      .where('subject_type', '=', subject.type)
      .where('subject_id', '=', subject.id)
      .executeTakeFirst();
    return Number(limits.numDeletedRows) + Number(budgets.numDeletedRows);
  }

  // --- Limits ------------------------------------------------------------------------------------------------------

  listLimits(scope: OrgScope, filters: RuleListFilters, window: ListWindow<RuleSortField>): Promise<LimitRow[]> {
    const query = this.#db
      .selectFrom('traffic_limits')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where((eb) => eb.and(ruleConditions('traffic_limits', filters)));
    return pageQuery(
      query,
      { sort: `traffic_limits.${window.sort.field}`, id: 'traffic_limits.id', sortType: 'number' },
      window,
    ).execute();
  }

  findLimit(scope: OrgScope, id: string): Promise<LimitRow | undefined> {
    return this.#db
      .selectFrom('traffic_limits')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The rule for the same subject and model (`''`: every model), to refuse a duplicate before the index does. */
  findLimitFor(scope: OrgScope, subject: TrafficSubject, model: string): Promise<LimitRow | undefined> {
    return this.#db
      .selectFrom('traffic_limits')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('subject_type', '=', subject.type)
      .where('subject_id', '=', subject.id)
      .where('model', '=', model)
      .executeTakeFirst();
  }

  async insertLimit(row: Insertable<TrafficLimitsTable>): Promise<void> {
    await this.#db.insertInto('traffic_limits').values(row).execute();
  }

  async updateLimit(scope: OrgScope, id: string, values: Updateable<TrafficLimitsTable>): Promise<void> {
    await this.#db
      .updateTable('traffic_limits')
      .set(values)
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .execute();
  }

  async deleteLimit(scope: OrgScope, id: string): Promise<void> {
    await this.#db.deleteFrom('traffic_limits').where('org_id', '=', scope.orgId).where('id', '=', id).execute();
  }

  // --- Budgets -----------------------------------------------------------------------------------------------------

  listBudgets(scope: OrgScope, filters: RuleListFilters, window: ListWindow<RuleSortField>): Promise<BudgetRow[]> {
    const query = this.#db
      .selectFrom('budgets')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where((eb) => eb.and(ruleConditions('budgets', filters)));
    return pageQuery(
      query,
      { sort: `budgets.${window.sort.field}`, id: 'budgets.id', sortType: 'number' },
      window,
    ).execute();
  }

  findBudget(scope: OrgScope, id: string): Promise<BudgetRow | undefined> {
    return this.#db
      .selectFrom('budgets')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  findBudgetFor(scope: OrgScope, subject: TrafficSubject, period: string): Promise<BudgetRow | undefined> {
    return this.#db
      .selectFrom('budgets')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('subject_type', '=', subject.type)
      .where('subject_id', '=', subject.id)
      .where('period', '=', period)
      .executeTakeFirst();
  }

  async insertBudget(row: Insertable<BudgetsTable>): Promise<void> {
    await this.#db.insertInto('budgets').values(row).execute();
  }

  async updateBudget(scope: OrgScope, id: string, values: Updateable<BudgetsTable>): Promise<void> {
    await this.#db.updateTable('budgets').set(values).where('org_id', '=', scope.orgId).where('id', '=', id).execute();
  }

  async deleteBudget(scope: OrgScope, id: string): Promise<void> {
    await this.#db.deleteFrom('budgets').where('org_id', '=', scope.orgId).where('id', '=', id).execute();
  }

  // --- The gateway's reads -----------------------------------------------------------------------------------------

  /** An organization's stored settings (JSON), or undefined when it does not exist or is deleted. */
  async findOrganizationSettings(orgId: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('organizations')
      .select('settings')
      .where('id', '=', orgId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row?.settings;
  }

  async listPolicyRows(orgId: string): Promise<{ limits: LimitRow[]; budgets: BudgetRow[] }> {
    const [limits, budgets] = await Promise.all([
      this.#db.selectFrom('traffic_limits').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
      this.#db.selectFrom('budgets').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    ]);
    return { limits, budgets };
  }

  /**
   * The cost of every usage record of the owner's keys since `from`. Organization, team and user spend go through
   * the organization's keys (api_keys_org / api_keys_team), then each key's records through usage_records_key_created.
   */
  async sumSpend(owner: SpendOwner, from: number): Promise<number> {
    const total = sql<string | number | null>`coalesce(sum(usage_records.cost_micros), 0)`.as('total');
    let row: { total: string | number | null } | undefined;
    if (owner.type === 'key') {
      row = await this.#db
        .selectFrom('usage_records')
        .select(total)
        .where('key_id', '=', owner.keyId)
        .where('created_at', '>=', from)
        .executeTakeFirst();
    } else {
      let query = this.#db
        .selectFrom('usage_records')
        .innerJoin('api_keys', 'api_keys.id', 'usage_records.key_id')
        .select(total)
        .where('api_keys.org_id', '=', owner.orgId)
        .where('usage_records.created_at', '>=', from);
      if (owner.type === 'team') query = query.where('api_keys.team_id', '=', owner.teamId);
      if (owner.type === 'user') query = query.where('api_keys.user_id', '=', owner.userId);
      row = await query.executeTakeFirst();
    }
    return Number(row?.total ?? 0);
  }

  /** True when the alert is new; false when another instance (or an earlier check) raised it already. */
  async insertAlert(row: Insertable<BudgetAlertsTable>): Promise<boolean> {
    const result = await this.#db
      .insertInto('budget_alerts')
      .values(row)
      .onConflict((conflict) => conflict.columns(['budget_ref', 'period_start', 'threshold']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /**
   * Alerts of the organization, newest first by default. With `onlyUser`, alerts of other members and of keys that
   * are not theirs are left out.
   */
  listAlerts(scope: OrgScope, filters: RuleListFilters, window: ListWindow<AlertSortField>): Promise<BudgetAlertRow[]> {
    let query = this.#db.selectFrom('budget_alerts').selectAll().where('org_id', '=', scope.orgId);
    if (filters.subjectType !== undefined) query = query.where('subject_type', '=', filters.subjectType);
    if (filters.subjectId !== undefined) query = query.where('subject_id', '=', filters.subjectId);
    const onlyUser = filters.onlyUser;
    if (onlyUser !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('subject_type', 'in', ['organization', 'team']),
          eb.and([eb('subject_type', '=', 'user'), eb('subject_id', '=', onlyUser)]),
          eb.and([
            eb('subject_type', '=', 'key'),
            eb(
              'subject_id',
              'in',
              eb
                .selectFrom('api_keys')
                .select('api_keys.id')
                .where('api_keys.org_id', '=', scope.orgId)
                .where('api_keys.user_id', '=', onlyUser),
            ),
          ]),
        ]),
      );
    }
    return pageQuery(
      query,
      { sort: `budget_alerts.${window.sort.field}`, id: 'budget_alerts.id', sortType: 'number' },
      window,
    ).execute();
  }

  // --- Instances ---------------------------------------------------------------------------------------------------

  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.#db
      .insertInto('instances')
      .values({ id: instanceId, started_at: now, heartbeat_at: now })
      .onConflict((conflict) => conflict.column('id').doUpdateSet({ heartbeat_at: now }))
      .execute();
  }

  async countLiveInstances(since: number): Promise<number> {
    const row = await this.#db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<string | number>().as('count'))
      .where('heartbeat_at', '>=', since)
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  async forgetInstance(instanceId: string): Promise<void> {
    await this.#db.deleteFrom('instances').where('id', '=', instanceId).execute();
  }

  /** Rows of instances that stopped beating long ago, so the table does not grow with every restart. */
  async forgetInstancesBefore(before: number): Promise<void> {
    await this.#db.deleteFrom('instances').where('heartbeat_at', '<', before).execute();
  }
}

/** The list filters as conditions on a rule table (both have subject_type and subject_id). */
function ruleConditions(table: 'traffic_limits' | 'budgets', filters: RuleListFilters): Expression<SqlBool>[] {
  const type = sql.ref(`${table}.subject_type`);
  const id = sql.ref(`${table}.subject_id`);
  const conditions: Expression<SqlBool>[] = [];
  if (filters.subjectType !== undefined) conditions.push(sql<SqlBool>`${type} = ${filters.subjectType}`);
  if (filters.subjectId !== undefined) conditions.push(sql<SqlBool>`${id} = ${filters.subjectId}`);
  if (filters.onlyUser !== undefined) conditions.push(sql<SqlBool>`(${type} <> 'user' or ${id} = ${filters.onlyUser})`);
  return conditions;
}
