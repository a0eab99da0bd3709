import Type from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import {
  defaultRotationGraceSeconds,
  keyBudgetPeriods,
  keyScopes,
  keySortFields,
  maxAllowedModels,
  maxIpAllowlistEntries,
  maxKeyConcurrencyLimit,
  maxRotationGraceSeconds,
  type KeySettingsInput,
  type KeySummary,
} from '../../modules/keys/index.ts';
import type { ApiContext, ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import {
  NameSchema,
  OrgParamsSchema,
  listQueryFields,
  pageOf,
  problemResponses,
  readListWindow,
  sortQueryField,
} from './tenancy-schemas.ts';

const nullable = <Schema extends Type.TSchema>(schema: Schema, description?: string) =>
  Type.Union([schema, Type.Null()], description === undefined ? {} : { description });

const Timestamp = Type.String({ format: 'date-time' });
const KeyStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]);
const ScopesSchema = Type.Array(Type.Enum([...keyScopes]), {
  minItems: 1,
  maxItems: keyScopes.length,
  description: `What the key may do: ${keyScopes.join(', ')}. Default: chat, embeddings, models.`,
});
const ModelListSchema = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: maxAllowedModels });
const IpListSchema = Type.Array(Type.String({ maxLength: 64 }), { maxItems: maxIpAllowlistEntries });
const PerMinuteSchema = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
const BudgetSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const ConcurrencySchema = Type.Integer({ minimum: 1, maximum: maxKeyConcurrencyLimit });
const BudgetPeriodSchema = Type.Enum([...keyBudgetPeriods], {
  description: "What budget_micros covers: a day, an ISO week or a month in the organization's time zone, or total",
});

/** The settings both creation and PATCH take; all optional, `null` clears. */
const settingsFields = {
  scopes: Type.Optional(ScopesSchema),
  allowed_models: Type.Optional(nullable(ModelListSchema, 'Public model names the key may call; null for all')),
  ip_allowlist: Type.Optional(
    nullable(IpListSchema, 'IPv4/IPv6 addresses or CIDR ranges the key may be used from; null for anywhere'),
  ),
  expires_at: Type.Optional(nullable(Timestamp, 'When the key stops working (must be in the future); null: never')),
  rpm_limit: Type.Optional(nullable(PerMinuteSchema, 'Requests per minute; null: no limit of its own')),
  tpm_limit: Type.Optional(nullable(PerMinuteSchema, 'Tokens per minute; null: no limit of its own')),
  concurrency_limit: Type.Optional(
    nullable(ConcurrencySchema, 'Requests in flight at once; null: no limit of its own'),
  ),
  budget_micros: Type.Optional(
    nullable(BudgetSchema, 'Spending cap in micro-USD over budget_period; null: no budget of its own'),
  ),
  budget_period: Type.Optional(BudgetPeriodSchema),
};

const CreateKeyBodySchema = Type.Object(
  {
    name: NameSchema,
    team_id: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 128 }), 'Make it a team key')),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Owner (default: you)' })),
    ...settingsFields,
  },
  { additionalProperties: false },
);
type CreateKeyBody = Type.Static<typeof CreateKeyBodySchema>;

const UpdateKeyBodySchema = Type.Object(
  { name: Type.Optional(NameSchema), ...settingsFields },
  { additionalProperties: false, minProperties: 1 },
);
type UpdateKeyBody = Type.Static<typeof UpdateKeyBodySchema>;

const RotateKeyBodySchema = Type.Object(
  {
    grace_period_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: maxRotationGraceSeconds,
        description: `How long the old key keeps working (default ${defaultRotationGraceSeconds}, at most 7 days)`,
      }),
    ),
  },
  { additionalProperties: false },
);
type RotateKeyBody = Type.Static<typeof RotateKeyBodySchema>;

const KeyParamsSchema = Type.Object({
  org_id: Type.String({ minLength: 1, maxLength: 128 }),
  key_id: Type.String({ minLength: 1, maxLength: 128 }),
});
type KeyParams = Type.Static<typeof KeyParamsSchema>;

const ListKeysQuerySchema = Type.Object({
  ...listQueryFields,
  sort: sortQueryField(keySortFields, '-created_at'),
  team_id: Type.Optional(Type.String({ maxLength: 128 })),
  user_id: Type.Optional(Type.String({ maxLength: 128 })),
  status: Type.Optional(KeyStatusSchema),
});
type ListKeysQuery = Type.Static<typeof ListKeysQuerySchema>;

const keyFields = {
  id: Type.String(),
  name: Type.String(),
  org_id: nullable(Type.String()),
  team_id: nullable(Type.String()),
  user_id: Type.String(),
  prefix: Type.String({ description: 'The first characters of the secret, to tell keys apart' }),
  status: KeyStatusSchema,
  scopes: Type.Array(Type.String()),
  allowed_models: nullable(Type.Array(Type.String())),
  ip_allowlist: nullable(Type.Array(Type.String())),
  rpm_limit: nullable(Type.Integer()),
  tpm_limit: nullable(Type.Integer()),
  concurrency_limit: nullable(Type.Integer()),
  budget_micros: nullable(Type.Integer()),
  budget_period: BudgetPeriodSchema,
  budget_spent_micros: Type.Optional(
    nullable(Type.Integer(), "Spent in the budget's current period; null without a budget. Single-key answers only"),
  ),
  budget_reserved_micros: Type.Optional(
    nullable(Type.Integer(), 'Held for requests still in flight; null without a budget. Single-key answers only'),
  ),
  budget_resets_at: Type.Optional(
    nullable(Timestamp, 'When the period ends; null without a budget or for a total one. Single-key answers only'),
  ),
  expires_at: nullable(Timestamp),
  revoked_at: nullable(Timestamp),
  last_used_at: nullable(Timestamp, 'Updated in batches, a few seconds behind traffic'),
  rotated_from: nullable(Type.String(), 'The key this one replaced by rotation'),
  created_at: Timestamp,
  updated_at: nullable(Timestamp),
};
const KeySchema = Type.Object(keyFields);
const CreatedKeySchema = Type.Object({
  ...keyFields,
  secret: Type.String({ description: 'The key itself: shown in this response only, never again' }),
});

const tags = ['keys'];

/**
 * API keys of an organization under /api/v1/organizations/{org_id}/keys. Members see and manage their own keys;
 * owners and admins see and manage every key. Keys a caller may not see answer 404, like other tenants' keys. Each
 * route checks its action here; whose key it is (and its team) is checked by the Authorizer through KeyService, which
 * also drops cached principals after every change.
 */
export const registerKeyRoutes: ApiRoutes = (api, context) => {
  api.post(
    '/organizations/:org_id/keys',
    {
      schema: {
        tags,
        summary: 'Create an API key (the secret is returned once)',
        params: OrgParamsSchema,
        body: CreateKeyBodySchema,
        response: { 201: CreatedKeySchema, ...problemResponses },
      },
      config: { idempotent: true, idempotencyOmits: ['secret'] },
    },
    async (request, reply) => {
      const { org_id: orgId } = request.params as Type.Static<typeof OrgParamsSchema>;
      const body = request.body as CreateKeyBody;
      const scope = await context.authorizer.authorize(
        request.actor,
        orgId,
        'keys.create',
        body.team_id ? { teamId: body.team_id } : {},
      );
      const created = await context.keys.createInOrg(scope, {
        ...readSettings(body),
        name: body.name,
        teamId: body.team_id,
        userId: body.user_id,
      });
      return reply.code(201).send({ ...(await presentKeyWithBudget(context, created.key)), secret: created.secret });
    },
  );

  api.get(
    '/organizations/:org_id/keys',
    {
      schema: {
        tags,
        summary: 'List keys: your own, or every key for owners and admins',
        params: OrgParamsSchema,
        querystring: ListKeysQuerySchema,
        response: { 200: pageOf(KeySchema), ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId } = request.params as Type.Static<typeof OrgParamsSchema>;
      const query = request.query as ListKeysQuery;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'keys.read.own');
      const { page, window } = readListWindow(query, keySortFields, { field: 'created_at', direction: 'desc' });
      const keys = await context.keys.listInOrg(
        scope,
        { teamId: query.team_id, userId: query.user_id, status: query.status },
        window,
      );
      return toPage(keys, page, (key) => [window.sort.field === 'name' ? key.name : key.createdAt, key.id], presentKey);
    },
  );

  api.get(
    '/organizations/:org_id/keys/:key_id',
    {
      schema: {
        tags,
        summary: 'One key (never its secret)',
        params: KeyParamsSchema,
        response: { 200: KeySchema, ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId, key_id: keyId } = request.params as KeyParams;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'keys.read.own');
      return presentKeyWithBudget(context, await context.keys.getInOrg(scope, keyId));
    },
  );

  api.patch(
    '/organizations/:org_id/keys/:key_id',
    {
      schema: {
        tags,
        summary: 'Change a key: name, scopes, allowlists, limits, expiry',
        params: KeyParamsSchema,
        body: UpdateKeyBodySchema,
        response: { 200: KeySchema, ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId, key_id: keyId } = request.params as KeyParams;
      const body = request.body as UpdateKeyBody;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'keys.update.own');
      const updated = await context.keys.updateInOrg(scope, keyId, {
        ...readSettings(body),
        ...(body.name === undefined ? {} : { name: body.name }),
      });
      return presentKeyWithBudget(context, updated);
    },
  );

  api.post(
    '/organizations/:org_id/keys/:key_id/rotate',
    {
      schema: {
        tags,
        summary: 'Replace a key with a new secret; the old one keeps working for a grace period',
        params: KeyParamsSchema,
        body: RotateKeyBodySchema,
        response: { 201: CreatedKeySchema, ...problemResponses },
      },
      config: { idempotent: true, idempotencyOmits: ['secret'] },
      // The body is optional: a bare POST rotates with the default grace period.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const { org_id: orgId, key_id: keyId } = request.params as KeyParams;
      const body = request.body as RotateKeyBody;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'keys.rotate.own');
      const rotated = await context.keys.rotateInOrg(
        scope,
        keyId,
        body.grace_period_seconds ?? defaultRotationGraceSeconds,
      );
      return reply.code(201).send({ ...presentKey(rotated.key), secret: rotated.secret });
    },
  );

  api.delete(
    '/organizations/:org_id/keys/:key_id',
    {
      schema: {
        tags,
        summary: 'Revoke a key: it stops working at once, everywhere',
        params: KeyParamsSchema,
        response: { 200: KeySchema, ...problemResponses },
      },
    },
    async (request) => {
      const { org_id: orgId, key_id: keyId } = request.params as KeyParams;
      const scope = await context.authorizer.authorize(request.actor, orgId, 'keys.revoke.own');
      return presentKey(await context.keys.revokeInOrg(scope, keyId));
    },
  );
};

function readSettings(body: CreateKeyBody | UpdateKeyBody): KeySettingsInput {
  return {
    scopes: body.scopes,
    allowedModels: body.allowed_models,
    ipAllowlist: body.ip_allowlist,
    expiresAt: body.expires_at === undefined || body.expires_at === null ? body.expires_at : readTime(body.expires_at),
    rpmLimit: body.rpm_limit,
    tpmLimit: body.tpm_limit,
    concurrencyLimit: body.concurrency_limit,
    budgetMicros: body.budget_micros,
    budgetPeriod: body.budget_period,
  };
}

function readTime(text: string): number {
  const time = Date.parse(text);
  if (!Number.isFinite(time)) {
    throw new AppError('invalid_request', 'expires_at must be an ISO 8601 date-time', { param: 'expires_at' });
  }
  return time;
}

const isoTime = (time: number | null): string | null => (time === null ? null : new Date(time).toISOString());

function presentKey(key: KeySummary) {
  return {
    id: key.id,
    name: key.name,
    org_id: key.orgId,
    team_id: key.teamId,
    user_id: key.userId,
    prefix: key.prefix,
    status: key.status,
    scopes: key.scopes,
    allowed_models: key.allowedModels,
    ip_allowlist: key.ipAllowlist,
    rpm_limit: key.rpmLimit,
    tpm_limit: key.tpmLimit,
    concurrency_limit: key.concurrencyLimit,
    budget_micros: key.budgetMicros,
    budget_period: key.budgetPeriod,
    expires_at: isoTime(key.expiresAt),
    revoked_at: isoTime(key.revokedAt),
    last_used_at: isoTime(key.lastUsedAt),
    rotated_from: key.rotatedFrom,
    created_at: new Date(key.createdAt).toISOString(),
    updated_at: isoTime(key.updatedAt),
  };
}

/**
 * A key with its budget's live figures. Lists leave them out: each one is a read of the shared traffic state (and,
 * cold, a sum over the usage records), too much for a page of fifty keys.
 */
async function presentKeyWithBudget(context: ApiContext, key: KeySummary) {
  const status = await context.traffic.keyBudgetStatus(key);
  return {
    ...presentKey(key),
    budget_spent_micros: status?.spentMicros ?? null,
    budget_reserved_micros: status?.reservedMicros ?? null,
    budget_resets_at: status === undefined ? null : isoTime(status.resetsAt),
  };
}
