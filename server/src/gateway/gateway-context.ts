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
 * key may not use it or the organization's settings leave it out.
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
  const refusal = refusalFor(table, principal, model);
  if (refusal === 'key') {
    throw new AppError('model_not_allowed', `this API key may not use the model "${requested}"`, { param: 'model' });
  }
  if (refusal === 'defaults') {
    throw new AppError(
      'model_not_allowed',
      `the model "${requested}" is not among your organization's default models, and this key names no models of its own`,
      { param: 'model' },
    );
  }
  if (refusal === 'providers') {
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
  return model && refusalFor(table, principal, model) === undefined ? model : undefined;
}

/**
 * Why a principal may not use a model, or undefined when it may:
 * - `key`: the key's allowlist names neither the model nor any of its aliases;
 * - `defaults`: the key has no allowlist and the organization's `default_models` (its keys' allowlist by default)
 *   leave the model out;
 * - `providers`: the organization's `allowed_providers` leave the model no deployment.
 */
export function refusalFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  model: CatalogModel,
): 'key' | 'defaults' | 'providers' | undefined {
  const policy = table.policyFor(principal.orgId);
  const allowed = principal.allowedModels;
  if (allowed !== null) {
    if (!model.names.some((name) => allowed.has(name))) return 'key';
  } else if (policy.defaultModels.length > 0) {
    if (!model.names.some((name) => policy.defaultModels.includes(name))) return 'defaults';
  }
  if (
    policy.allowedProviders !== null &&
    !model.deployments.some((deployment) => isDeploymentAllowed(deployment, policy))
  ) {
    return 'providers';
  }
  return undefined;
}
