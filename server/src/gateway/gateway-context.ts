import type { KeyPrincipal } from '../modules/keys/index.ts';
import type { KeyAuthenticator } from './key-authenticator.ts';
import type { UsageJournal } from './meter/usage-journal.ts';
import type { TokenCounter } from './meter/token-counter.ts';
import type { CatalogModel, ModelCatalog } from './model-catalog.ts';
import type { UpstreamClient } from './upstream-client.ts';
import { AppError } from '../errors/app-error.ts';

/** What the gateway routes need, wired once by the app factory. */
export interface GatewayContext {
  readonly authenticator: KeyAuthenticator;
  readonly catalog: ModelCatalog;
  readonly upstream: UpstreamClient;
  readonly journal: UsageJournal;
  readonly tokenCounter: TokenCounter;
}

/** Resolves a requested model for a principal: 404 when it does not exist, 403 when the key may not use it. */
export function resolveModelFor(
  catalog: ModelCatalog,
  principal: KeyPrincipal,
  requested: string,
  kind: CatalogModel['kind'],
): CatalogModel {
  const model = catalog.resolve(requested);
  if (!model || !isModelAllowed(principal, model)) {
    // Models a key may not see are reported as missing only when listing; asking for one by name gets a 403.
    if (model)
      throw new AppError('model_not_allowed', `this API key may not use the model "${requested}"`, { param: 'model' });
    throw new AppError('model_not_found', `the model "${requested}" does not exist`, { param: 'model' });
  }
  if (model.kind !== kind) {
    throw new AppError(
      'invalid_request',
      `the model "${requested}" is a ${model.kind} model and cannot serve this endpoint`,
      {
        param: 'model',
      },
    );
  }
  return model;
}

/** A key's allowlist admits a model when it names the model or any of its aliases, whichever name is asked for. */
export function isModelAllowed(principal: KeyPrincipal, model: CatalogModel): boolean {
  const allowed = principal.allowedModels;
  if (allowed === null) return true;
  for (const name of model.names) if (allowed.has(name)) return true;
  return false;
}
