import type { OrgRole } from '../../db/schema.ts';
import { defaultTimeZone, isValidTimeZone } from '../traffic/index.ts';

/** Roles new SSO users may receive; ownership only ever moves by transfer. */
export type SsoDefaultRole = Exclude<OrgRole, 'owner'>;
export const ssoDefaultRoles = ['admin', 'billing', 'member', 'viewer'] as const satisfies readonly SsoDefaultRole[];

export interface SsoSettings {
  readonly enabled: boolean;
  readonly issuer: string | null;
  readonly clientId: string | null;
  /** The client secret sealed with SecretBox (associated data binds it to the organization); never plaintext. */
  readonly clientSecretSealed: string | null;
  readonly defaultRole: SsoDefaultRole;
  readonly allowedDomains: readonly string[];
}

/** Enterprise settings of one organization, kept as JSON in `organizations.settings`. */
export interface OrgSettings {
  /** Models offered first to the organization's keys and console; empty means the platform defaults. */
  readonly defaultModels: readonly string[];
  /** Provider ids the organization may route to; empty means every configured provider. */
  readonly allowedProviders: readonly string[];
  /** How long request logs and usage detail are kept. */
  readonly dataRetentionDays: number;
  /** Whether request and response bodies are written to the request log. Off unless an admin turns it on. */
  readonly requestBodyLogging: boolean;
  /** IANA zone in which budget days, weeks and months begin (read by traffic control). */
  readonly timeZone: string;
  readonly sso: SsoSettings;
}

const defaultDataRetentionDays = 90;
export const maxDataRetentionDays = 3650;

export const defaultOrgSettings: OrgSettings = {
  defaultModels: [],
  allowedProviders: [],
  dataRetentionDays: defaultDataRetentionDays,
  requestBodyLogging: false,
  timeZone: defaultTimeZone,
  sso: {
    enabled: false,
    issuer: null,
    clientId: null,
    clientSecretSealed: null,
    defaultRole: 'member',
    allowedDomains: [],
  },
};

/** The stored JSON layout (snake_case, like every other column). */
interface StoredSettings {
  default_models?: unknown;
  allowed_providers?: unknown;
  data_retention_days?: unknown;
  request_body_logging?: unknown;
  time_zone?: unknown;
  sso?: {
    enabled?: unknown;
    issuer?: unknown;
    client_id?: unknown;
    client_secret_sealed?: unknown;
    default_role?: unknown;
    allowed_domains?: unknown;
  };
}

/**
 * Reads the stored JSON; any field that is missing or not the expected type takes its default, so settings written
 * by an older version (or the `{}` every organization starts with) always read as a complete object.
 */
export function parseOrgSettings(text: string): OrgSettings {
  let stored: StoredSettings;
  try {
    const parsed: unknown = JSON.parse(text);
    stored = parsed !== null && typeof parsed === 'object' ? parsed : {};
  } catch {
    stored = {};
  }
  const sso = stored.sso ?? {};
  const defaults = defaultOrgSettings;
  return {
    defaultModels: stringArray(stored.default_models) ?? defaults.defaultModels,
    allowedProviders: stringArray(stored.allowed_providers) ?? defaults.allowedProviders,
    dataRetentionDays:
      typeof stored.data_retention_days === 'number' ? stored.data_retention_days : defaults.dataRetentionDays,
    requestBodyLogging:
      typeof stored.request_body_logging === 'boolean' ? stored.request_body_logging : defaults.requestBodyLogging,
    timeZone:
      typeof stored.time_zone === 'string' && isValidTimeZone(stored.time_zone) ? stored.time_zone : defaults.timeZone,
    sso: {
      enabled: typeof sso.enabled === 'boolean' ? sso.enabled : defaults.sso.enabled,
      issuer: typeof sso.issuer === 'string' ? sso.issuer : null,
      clientId: typeof sso.client_id === 'string' ? sso.client_id : null,
      clientSecretSealed: typeof sso.client_secret_sealed === 'string' ? sso.client_secret_sealed : null,
      defaultRole: ssoDefaultRoles.find((role) => role === sso.default_role) ?? defaults.sso.defaultRole,
      allowedDomains: stringArray(sso.allowed_domains) ?? defaults.sso.allowedDomains,
    },
  };
}

export function serializeOrgSettings(settings: OrgSettings): string {
  return JSON.stringify({
    default_models: settings.defaultModels,
    allowed_providers: settings.allowedProviders,
    data_retention_days: settings.dataRetentionDays,
    request_body_logging: settings.requestBodyLogging,
    time_zone: settings.timeZone,
    sso: {
      enabled: settings.sso.enabled,
      issuer: settings.sso.issuer,
      client_id: settings.sso.clientId,
      client_secret_sealed: settings.sso.clientSecretSealed,
      default_role: settings.sso.defaultRole,
      allowed_domains: settings.sso.allowedDomains,
    },
  });
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
}

/** Associated data for sealing an organization's SSO client secret: a sealed value copied to another org fails. */
export function ssoSecretContext(orgId: string): string {
  return `org-sso-client-secret:${orgId}`;
}
