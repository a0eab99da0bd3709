import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import { isModelAllowed, type GatewayContext } from './gateway-context.ts';
import type { CatalogModel } from './model-catalog.ts';
import { ModelParamsSchema } from './request-schemas.ts';

/** `/v1/models`: only what the calling key may use, in OpenAI's list format. */
export function registerModels(app: FastifyInstance, gateway: GatewayContext): void {
  app.get('/v1/models', async (request) => {
    const data = gateway.catalog
      .list()
      .filter((model) => isModelAllowed(request.principal, model))
      .map(presentModel);
    return { object: 'list', data };
  });

  app.get('/v1/models/:model', { schema: { params: ModelParamsSchema } }, async (request) => {
    const { model: name } = request.params as { model: string };
    const model = gateway.catalog.resolve(name);
    // A model the key may not use is indistinguishable from one that does not exist.
    if (!model || !isModelAllowed(request.principal, model, name)) {
      throw new AppError('model_not_found', `the model "${name}" does not exist`, { param: 'model' });
    }
    return presentModel(model);
  });
}

function presentModel(model: CatalogModel) {
  return { id: model.name, object: 'model', created: model.createdAt, owned_by: 'aihub' };
}
