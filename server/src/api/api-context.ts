import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.ts';
import type { DeploymentHealth } from '../gateway/routing/routing-runtime.ts';
import type { Database } from '../db/database.ts';
import type { AccessTokens, IdentityServices } from '../modules/identity/index.ts';
import type { KeyService } from '../modules/keys/index.ts';
import type { RegistryService } from '../modules/registry/index.ts';
import type { BudgetPeriod, BudgetRule } from '../modules/traffic/index.ts';
import type { Authorizer } from '../modules/tenancy/index.ts';

/** What management routes may use; built once by the app factory. */
export interface ApiContext {
  readonly config: Config;
  readonly db: Database;
  readonly authorizer: Authorizer;
  readonly accessTokens: AccessTokens;
  readonly keys: KeyService;
  /** Sessions, sign-in, accounts and passwords (modules/identity). */
  readonly identity: IdentityServices;
  /** The model registry kept in the database (providers, credentials, models). */
  readonly registry: RegistryService;
  /** Live routing state (breakers, deployment statistics) for the admin view. */
  readonly routing: RoutingAdmin;
  /** Live spend of budgets (the shared traffic-control state) for the budget and key views. */
  readonly traffic: TrafficAdmin;
}

/** A budget's live figures, read from the same shared state the gateway enforces with. */
export interface BudgetStatus {
  readonly spentMicros: number;
  readonly reservedMicros: number;
  readonly periodStart: number;
  /** When the period ends and spend starts again from zero; null for a `total` budget. */
  readonly resetsAt: number | null;
}

export interface TrafficAdmin {
  /** An organization budget rule's status now (spend read from the usage records when the state holds none yet). */
  budgetStatus(budget: BudgetRule): Promise<BudgetStatus>;
  /** A key's own budget status, or undefined when the key has no budget. */
  keyBudgetStatus(key: {
    readonly id: string;
    readonly orgId: string | null;
    readonly budgetMicros: number | null;
    readonly budgetPeriod: BudgetPeriod;
  }): Promise<BudgetStatus | undefined>;
}

export interface RoutingAdmin {
  deployments(): readonly DeploymentHealth[];
  /** Closes one credential's breaker (`<deployment id>#<credential id>`); false when it has none. */
  enable(credentialKey: string): boolean;
}

export type ApiRoutes = (api: FastifyInstance, context: ApiContext) => void | Promise<void>;
