import type { FastifyInstance } from 'fastify';
import { isDemoProvider } from '../config/demo-provider.ts';
import { AppError } from '../errors/app-error.ts';
import { isModelAllowed, type GatewayContext } from './gateway-context.ts';
import type { CatalogModel } from './model-catalog.ts';
import { ModelParamsSchema } from './request-schemas.ts';

/** `/v1/models`: only what the calling key may use, in OpenAI's list format. */
export function registerModels(app: FastifyInstance, gateway: GatewayContext): void {
  app.get('/v1/models', async (request) => {
    const models = gateway.catalog.list().filter((model) => isModelAllowed(request.principal, model));
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
    const model = gateway.catalog.resolve(name);
    // A model the key may not use is indistinguishable from one that does not exist.
    if (!model || !isModelAllowed(request.principal, model)) {
      throw new AppError('model_not_found', `the model "${name}" does not exist`, { param: 'model' });
    }
    return request.headers['anthropic-version'] !== undefined ? presentAnthropicModel(model) : presentModel(model);
  });
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
