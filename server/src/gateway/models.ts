import type { FastifyInstance } from 'fastify';
import { isDemoProvider } from '../config/demo-provider.ts';
import { AppError } from '../errors/app-error.ts';
import { refusalFor, type GatewayContext } from './gateway-context.ts';
import type { CatalogModel } from './model-catalog.ts';
import { ModelParamsSchema } from './request-schemas.ts';

/** `/v1/models`: only what the calling key may use, in OpenAI's list format. */
export function registerModels(app: FastifyInstance, gateway: GatewayContext): void {
  app.get('/v1/models', async (request) => {
    const table = gateway.registry.table;
    const principal = request.principal;
    const models = orderByDefaults(
      table.list(principal.orgId).filter((model) => refusalFor(table, principal, model) === undefined),
      table.policyFor(principal.orgId).defaultModels,
    );
    // Anthropic SDKs send anthropic-version on every call; answer them in their list format.
    if (request.headers['anthropic-version'] !== undefined) {
      return {
        data: models.map(presentAnthropicModel),
        has_more: false,
        first_id: models[0]?.name ?? null,
        last_id: models.at(-1)?.name ?? null,
      };
    }
    return { object: 'list', data: models.map(presentModel) };
  });

  app.get('/v1/models/:model', { schema: { params: ModelParamsSchema } }, async (request) => {
    const { model: name } = request.params as { model: string };
    const table = gateway.registry.table;
    const model = table.resolve(name, request.principal.orgId);
    // A model the key may not use is indistinguishable from one that does not exist.
    if (!model || refusalFor(table, request.principal, model) !== undefined) {
      throw new AppError('model_not_found', `the model "${name}" does not exist`, { param: 'model' });
    }
    return request.headers['anthropic-version'] !== undefined ? presentAnthropicModel(model) : presentModel(model);
  });
}

/** The organization's default models in the order its settings give, then the rest (named by a key's allowlist). */
function orderByDefaults(models: CatalogModel[], defaults: readonly string[]): CatalogModel[] {
  if (defaults.length === 0) return models;
  const rank = (model: CatalogModel): number => {
    let best = defaults.length;
    for (const name of model.names) {
      const index = defaults.indexOf(name);
      if (index !== -1 && index < best) best = index;
    }
    return best;
  };
  return models
    .map((model, index) => ({ model, index, rank: rank(model) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((entry) => entry.model);
}

function presentModel(model: CatalogModel) {
  return { id: model.name, object: 'model', created: model.createdAt, owned_by: ownerOf(model) };
}

/** The built-in demo model says so, so nobody mistakes its canned answers for a real provider's. */
function ownerOf(model: CatalogModel): string {
  return model.deployments.every((deployment) => isDemoProvider(deployment.provider.config.id))
    ? 'aihub-demo'
    : 'aihub';
}

function presentAnthropicModel(model: CatalogModel) {
  return {
    type: 'model',
    id: model.name,
    display_name: ownerOf(model) === 'aihub-demo' ? `${model.name} (AI Hub demo provider)` : model.name,
    created_at: new Date(model.createdAt * 1000).toISOString(),
  };
}
