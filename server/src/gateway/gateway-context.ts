import type { KeyPrincipal } from '../modules/keys/index.ts';
import type { KeyAuthenticator } from './key-authenticator.ts';
import type { UsageJournal } from './meter/usage-journal.ts';
import type { TokenCounter } from './meter/token-counter.ts';
import { isDeploymentAllowed, type CatalogModel, type ModelCatalog } from './model-catalog.ts';
import type { RegistryHolder } from './registry-holder.ts';
import type { Router } from './routing/router.ts';
import type { UpstreamClient } from './upstream-client.ts';
import { AppError } from '../errors/app-error.ts';

/** What the gateway routes need, wired once by the app factory. */
export interface GatewayContext {
  readonly authenticator: KeyAuthenticator;
  /** The current routing table is `registry.table`; read it once per request. */
  readonly registry: RegistryHolder;
  readonly router: Router;
  readonly upstream: UpstreamClient;
  readonly journal: UsageJournal;
  readonly tokenCounter: TokenCounter;
}

/**
 * Resolves a requested model for a principal: 404 when it does not exist for the key's organization, 403 when the
 * key may not use it or the organization's `allowed_providers` leave it no deployment.
 */
export function resolveModelFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  requested: string,
  kind: CatalogModel['kind'],
): CatalogModel {
  const model = table.resolve(requested, principal.orgId);
  if (!model) throw new AppError('model_not_found', `the model "${requested}" does not exist`, { param: 'model' });
  // Models a key may not see are reported as missing only when listing; asking for one by name gets a 403.
  if (!isModelAllowed(principal, model)) {
    throw new AppError('model_not_allowed', `this API key may not use the model "${requested}"`, { param: 'model' });
  }
  if (!isModelReachable(table, principal, model)) {
    throw new AppError(
      'model_not_allowed',
      `the model "${requested}" is served only by providers your organization does not allow`,
      { param: 'model' },
    );
  }
  if (model.kind !== kind) {
    throw new AppError(
      'invalid_request',
      `the model "${requested}" is a ${model.kind} model and cannot serve this endpoint`,
      { param: 'model' },
    );
  }
  return model;
}

/** A fallback model the principal may use, or undefined (fallbacks never widen what a key may reach). */
export function resolveFallbackFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  name: string,
): CatalogModel | undefined {
  const model = table.resolve(name, principal.orgId);
  if (!model || !isModelAllowed(principal, model) || !isModelReachable(table, principal, model)) return undefined;
  return model;
}

/** A key's allowlist admits a model when it names the model or any of its aliases, whichever name is asked for. */
export function isModelAllowed(principal: KeyPrincipal, model: CatalogModel): boolean {
  const allowed = principal.allowedModels;
  if (allowed === null) return true;
  for (const name of model.names) if (allowed.has(name)) return true;
  return false;
}

/** Whether the organization's `allowed_providers` leave the model at least one deployment. */
export function isModelReachable(table: ModelCatalog, principal: KeyPrincipal, model: CatalogModel): boolean {
  const policy = table.policyFor(principal.orgId);
  if (policy.allowedProviders === null) return true;
  return model.deployments.some((deployment) => isDeploymentAllowed(deployment, policy));
}
