import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { ModelFile } from '../../config/file-schema.ts';
import type { ProviderInput, RegistryOwner } from '../../modules/registry/index.ts';
import type { ApiContext, ApiRoutes } from '../api-context.ts';
import { readPageRequest, toPage } from '../pagination.ts';
import {
  CredentialInputSchema,
  CredentialPatchSchema,
  CredentialSchema,
  ModelCreateSchema,
  ModelPatchSchema,
  ModelSchema,
  ProviderCreateSchema,
  ProviderPatchSchema,
  ProviderSchema,
  presentCredential,
  presentModel,
  presentProvider,
  registryParams,
  type CredentialInputBody,
  type CredentialPatchBody,
  type ModelPatchBody,
  type ProviderCreateBody,
  type ProviderPatchBody,
  type RegistryParams,
} from './registry-schemas.ts';
import { NoContentSchema, listQueryFields, pageOf, problemResponses } from './tenancy-schemas.ts';

type RegistryAction = 'registry.read' | 'registry.manage';
type AuthorizeOwner = (request: FastifyRequest, action: RegistryAction) => Promise<RegistryOwner>;

const ListQuerySchema = Type.Object({ ...listQueryFields });
type ListQuery = Type.Static<typeof ListQuerySchema>;

const fileWins =
  'Entries defined in the YAML configuration file are listed with source "file" and cannot be changed, deleted or ' +
  'shadowed here (409): the file manages them.';

/**
 * The platform's model registry under /api/v1/providers and /api/v1/models, for platform admins only. Lists include
 * the configuration file's entries (read-only).
 */
export const registerPlatformRegistryRoutes: ApiRoutes = (api, context) => {
  registerRegistryRoutes(api, context, '', false, async (request) =>
    context.authorizer.authorizePlatform(request.actor),
  );
};

/**
 * An organization's own providers and models under /api/v1/organizations/{org_id}/providers and /models, visible only
 * to that organization's keys: every member reads them (registry.read), owners and admins change them
 * (registry.manage). Their base URLs must be public https addresses.
 */
export const registerOrganizationRegistryRoutes: ApiRoutes = (api, context) => {
  registerRegistryRoutes(api, context, '/organizations/:org_id', true, (request, action) =>
    context.authorizer.authorize(request.actor, (request.params as RegistryParams).org_id ?? '', action),
  );
};

function registerRegistryRoutes(
  api: FastifyInstance,
  context: ApiContext,
  prefix: string,
  withOrg: boolean,
  authorize: AuthorizeOwner,
): void {
  const registry = context.registry;
  const params = registryParams(withOrg);
  const who = withOrg ? "the organization's" : 'the platform';
  const tags = ['registry'];
  const description = withOrg ? undefined : fileWins;
  const documented = description === undefined ? {} : { description };

  api.post(
    `${prefix}/providers`,
    {
      schema: {
        tags,
        summary: `Add a provider to ${who} registry (keys are write-only)`,
        ...documented,
        params: params.owner,
        body: ProviderCreateSchema,
        response: { 201: ProviderSchema, ...problemResponses },
      },
      config: { idempotent: true },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      const created = await registry.createProvider(owner, readProviderInput(request.body as ProviderCreateBody));
      return reply.code(201).send(presentProvider(created));
    },
  );

  api.get(
    `${prefix}/providers`,
    {
      schema: {
        tags,
        summary: `List ${who} providers, by id`,
        ...documented,
        params: params.owner,
        querystring: ListQuerySchema,
        response: { 200: pageOf(ProviderSchema), ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.read');
      const providers = await registry.listProviders(owner);
      return pageByName(providers.map(presentProvider), (provider) => provider.id, request.query as ListQuery);
    },
  );

  api.get(
    `${prefix}/providers/:provider_id`,
    {
      schema: {
        tags,
        summary: 'One provider (never its keys)',
        params: params.provider,
        response: { 200: ProviderSchema, ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.read');
      const { provider_id: providerId } = request.params as RegistryParams;
      return presentProvider(await registry.getProvider(owner, providerId));
    },
  );

  api.patch(
    `${prefix}/providers/:provider_id`,
    {
      schema: {
        tags,
        summary: 'Change a provider (partial; null goes back to the default)',
        params: params.provider,
        body: ProviderPatchSchema,
        response: { 200: ProviderSchema, ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.manage');
      const { provider_id: providerId } = request.params as RegistryParams;
      return presentProvider(await registry.updateProvider(owner, providerId, request.body as ProviderPatchBody));
    },
  );

  api.delete(
    `${prefix}/providers/:provider_id`,
    {
      schema: {
        tags,
        summary: 'Remove a provider and its keys (409 while a model deploys to it)',
        params: params.provider,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      const { provider_id: providerId } = request.params as RegistryParams;
      await registry.deleteProvider(owner, providerId);
      return reply.code(204).send();
    },
  );

  api.post(
    `${prefix}/providers/:provider_id/credentials`,
    {
      schema: {
        tags,
        summary: "Add a key to a provider's credential pool (write-only)",
        params: params.provider,
        body: CredentialInputSchema,
        response: { 201: CredentialSchema, ...problemResponses },
      },
      config: { idempotent: true },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      const { provider_id: providerId } = request.params as RegistryParams;
      const body = request.body as CredentialInputBody;
      const created = await registry.addCredential(owner, providerId, {
        id: body.id,
        apiKey: body.api_key,
        weight: body.weight,
      });
      return reply.code(201).send(presentCredential(created));
    },
  );

  api.get(
    `${prefix}/providers/:provider_id/credentials`,
    {
      schema: {
        tags,
        summary: "A provider's credential pool: ids, weights and hints, never the keys",
        params: params.provider,
        response: { 200: Type.Object({ data: Type.Array(CredentialSchema) }), ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.read');
      const { provider_id: providerId } = request.params as RegistryParams;
      return { data: (await registry.listCredentials(owner, providerId)).map(presentCredential) };
    },
  );

  api.patch(
    `${prefix}/providers/:provider_id/credentials/:credential_id`,
    {
      schema: {
        tags,
        summary: "Replace a credential's key or change its weight",
        params: params.credential,
        body: CredentialPatchSchema,
        response: { 200: CredentialSchema, ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.manage');
      const { provider_id: providerId, credential_id: credentialId } = request.params as RegistryParams;
      const body = request.body as CredentialPatchBody;
      const updated = await registry.updateCredential(owner, providerId, credentialId, {
        apiKey: body.api_key,
        weight: body.weight,
      });
      return presentCredential(updated);
    },
  );

  api.delete(
    `${prefix}/providers/:provider_id/credentials/:credential_id`,
    {
      schema: {
        tags,
        summary: 'Remove a key from the pool',
        params: params.credential,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      const { provider_id: providerId, credential_id: credentialId } = request.params as RegistryParams;
      await registry.deleteCredential(owner, providerId, credentialId);
      return reply.code(204).send();
    },
  );

  api.post(
    `${prefix}/models`,
    {
      schema: {
        tags,
        summary: `Add a model to ${who} registry (the body is a YAML model entry)`,
        ...documented,
        params: params.owner,
        body: ModelCreateSchema,
        response: { 201: ModelSchema, ...problemResponses },
      },
      config: { idempotent: true },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      return reply.code(201).send(presentModel(await registry.createModel(owner, request.body as ModelFile)));
    },
  );

  api.get(
    `${prefix}/models`,
    {
      schema: {
        tags,
        summary: `List ${who} models, by name`,
        ...documented,
        params: params.owner,
        querystring: ListQuerySchema,
        response: { 200: pageOf(ModelSchema), ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.read');
      const models = await registry.listModels(owner);
      return pageByName(models.map(presentModel), (model) => model.name, request.query as ListQuery);
    },
  );

  api.get(
    `${prefix}/models/:model_name`,
    {
      schema: {
        tags,
        summary: 'One model with its deployments',
        params: params.model,
        response: { 200: ModelSchema, ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.read');
      const { model_name: modelName } = request.params as RegistryParams;
      return presentModel(await registry.getModel(owner, modelName));
    },
  );

  api.patch(
    `${prefix}/models/:model_name`,
    {
      schema: {
        tags,
        summary: 'Change a model (partial; deployments replaces the list; null goes back to the default)',
        params: params.model,
        body: ModelPatchSchema,
        response: { 200: ModelSchema, ...problemResponses },
      },
    },
    async (request) => {
      const owner = await authorize(request, 'registry.manage');
      const { model_name: modelName } = request.params as RegistryParams;
      return presentModel(await registry.updateModel(owner, modelName, request.body as ModelPatchBody));
    },
  );

  api.delete(
    `${prefix}/models/:model_name`,
    {
      schema: {
        tags,
        summary: 'Remove a model (409 while another model falls back to it)',
        params: params.model,
        response: { 204: NoContentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const owner = await authorize(request, 'registry.manage');
      const { model_name: modelName } = request.params as RegistryParams;
      await registry.deleteModel(owner, modelName);
      return reply.code(204).send();
    },
  );
}

function readProviderInput(body: ProviderCreateBody): ProviderInput {
  const { api_key: apiKey, credentials, ...entry } = body;
  const pool = [
    ...(apiKey === undefined ? [] : [{ apiKey }]),
    ...(credentials ?? []).map((credential) => ({
      id: credential.id,
      apiKey: credential.api_key,
      weight: credential.weight,
    })),
  ];
  return { entry, credentials: pool };
}

/** Registries are small and merge file and stored entries, so lists are paged in memory, by name. */
function pageByName<Item>(items: Item[], nameOf: (item: Item) => string, query: ListQuery) {
  const page = readPageRequest({
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  const after = page.after?.id;
  const rest = after === undefined ? items : items.filter((item) => nameOf(item) > after);
  return toPage(
    rest.slice(0, page.limit + 1),
    page,
    (item) => [nameOf(item), nameOf(item)],
    (item) => item,
  );
}
