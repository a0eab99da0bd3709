import Type from 'typebox';
import { SecretBox } from '../../lib/secret-box.ts';
import {
  maxDataRetentionDays,
  SettingsService,
  ssoDefaultRoles,
  type OrgSettings,
  type SettingsPatch,
} from '../../modules/tenancy/index.ts';
import type { ApiRoutes } from '../api-context.ts';
import { OrgParamsSchema, problemResponses, type OrgParams } from './tenancy-schemas.ts';

const SsoRoleSchema = Type.Enum([...ssoDefaultRoles]);
const NamesSchema = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 });
const DomainSchema = Type.String({
  maxLength: 253,
  pattern: '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$',
});

export const SettingsSchema = Type.Object({
  default_models: Type.Array(Type.String()),
  allowed_providers: Type.Array(Type.String(), { description: 'Empty means every configured provider' }),
  data_retention_days: Type.Integer(),
  request_body_logging: Type.Boolean(),
  time_zone: Type.String({ description: 'IANA time zone in which budget days, weeks and months begin' }),
  sso: Type.Object({
    enabled: Type.Boolean(),
    issuer: Type.Union([Type.String(), Type.Null()]),
    client_id: Type.Union([Type.String(), Type.Null()]),
    client_secret_set: Type.Boolean({ description: 'The secret itself is write-only' }),
    default_role: SsoRoleSchema,
    allowed_domains: Type.Array(Type.String()),
  }),
});
export type SettingsBody = Type.Static<typeof SettingsSchema>;

const SettingsUpdateSchema = Type.Object(
  {
    default_models: Type.Optional(NamesSchema),
    allowed_providers: Type.Optional(NamesSchema),
    data_retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: maxDataRetentionDays })),
    request_body_logging: Type.Optional(Type.Boolean()),
    time_zone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'An IANA time zone name such as Europe/Berlin' }),
    ),
    sso: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          issuer: Type.Optional(
            Type.Union([Type.String({ minLength: 1, maxLength: 2048, description: 'https URL' }), Type.Null()]),
          ),
          client_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()])),
          client_secret: Type.Optional(
            Type.Union([
              Type.String({ minLength: 1, maxLength: 4096, description: 'Write-only; stored encrypted' }),
              Type.Null(),
            ]),
          ),
          default_role: Type.Optional(SsoRoleSchema),
          allowed_domains: Type.Optional(Type.Array(DomainSchema, { maxItems: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type SettingsUpdate = Type.Static<typeof SettingsUpdateSchema>;

export function presentSettings(settings: OrgSettings): SettingsBody {
  return {
    default_models: [...settings.defaultModels],
    allowed_providers: [...settings.allowedProviders],
    data_retention_days: settings.dataRetentionDays,
    request_body_logging: settings.requestBodyLogging,
    time_zone: settings.timeZone,
    sso: {
      enabled: settings.sso.enabled,
      issuer: settings.sso.issuer,
      client_id: settings.sso.clientId,
      client_secret_set: settings.sso.clientSecretSealed !== null,
      default_role: settings.sso.defaultRole,
      allowed_domains: [...settings.sso.allowedDomains],
    },
  };
}

function readPatch(body: SettingsUpdate): SettingsPatch {
  const sso = body.sso;
  return {
    ...(body.default_models === undefined ? {} : { defaultModels: body.default_models }),
    ...(body.allowed_providers === undefined ? {} : { allowedProviders: body.allowed_providers }),
    ...(body.data_retention_days === undefined ? {} : { dataRetentionDays: body.data_retention_days }),
    ...(body.request_body_logging === undefined ? {} : { requestBodyLogging: body.request_body_logging }),
    ...(body.time_zone === undefined ? {} : { timeZone: body.time_zone }),
    ...(sso === undefined
      ? {}
      : {
          sso: {
            ...(sso.enabled === undefined ? {} : { enabled: sso.enabled }),
            ...(sso.issuer === undefined ? {} : { issuer: sso.issuer }),
            ...(sso.client_id === undefined ? {} : { clientId: sso.client_id }),
            ...(sso.client_secret === undefined ? {} : { clientSecret: sso.client_secret }),
            ...(sso.default_role === undefined ? {} : { defaultRole: sso.default_role }),
            ...(sso.allowed_domains === undefined ? {} : { allowedDomains: sso.allowed_domains }),
          },
        }),
  };
}

/** Enterprise settings per organization: default models, providers, retention, body logging, SSO. */
export const registerSettingsRoutes: ApiRoutes = (api, context) => {
  const settings = new SettingsService(context.db, new SecretBox(context.config.secretKey), context.registry);

  api.get<{ Params: OrgParams }>(
    '/organizations/:org_id/settings',
    {
      schema: {
        tags: ['organizations'],
        summary: "Read an organization's enterprise settings",
        params: OrgParamsSchema,
        response: { 200: SettingsSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'settings.read');
      return presentSettings(await settings.read(scope));
    },
  );

  api.patch<{ Params: OrgParams; Body: SettingsUpdate }>(
    '/organizations/:org_id/settings',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Change enterprise settings (partial update; sso.client_secret is write-only, null clears it)',
        params: OrgParamsSchema,
        body: SettingsUpdateSchema,
        response: { 200: SettingsSchema, ...problemResponses },
      },
    },
    async (request) => {
      const scope = await context.authorizer.authorize(request.actor, request.params.org_id, 'settings.update');
      return presentSettings(await settings.update(scope, readPatch(request.body)));
    },
  );
};
