import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import type { SecretBox } from '../../lib/secret-box.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { bumpTrafficEpochWithin, isValidTimeZone } from '../traffic/index.ts';
import type { OrgScope } from './authorizer.ts';
import { OrganizationRepository } from './organization-repository.ts';
import { findOrganization } from './organization-service.ts';
import {
  parseOrgSettings,
  serializeOrgSettings,
  ssoSecretContext,
  type OrgSettings,
  type SsoDefaultRole,
} from './org-settings.ts';

/** A partial update; absent fields keep their value, `null` clears the SSO fields that may be empty. */
export interface SettingsPatch {
  readonly defaultModels?: readonly string[];
  readonly allowedProviders?: readonly string[];
  readonly dataRetentionDays?: number;
  readonly requestBodyLogging?: boolean;
  /** An IANA zone name; a name this runtime does not know is a 400 naming `time_zone`. */
  readonly timeZone?: string;
  readonly sso?: {
    readonly enabled?: boolean;
    readonly issuer?: string | null;
    readonly clientId?: string | null;
    /** Write-only: sealed before it is stored, never returned. */
    readonly clientSecret?: string | null;
    readonly defaultRole?: SsoDefaultRole;
    readonly allowedDomains?: readonly string[];
  };
}

/** One organization's SSO settings with the client secret unsealed, for the sign-in flow. */
export interface OrgSsoSettings {
  readonly enabled: boolean;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly defaultRole: SsoDefaultRole;
  readonly allowedDomains: readonly string[];
}

/**
 * What the settings need from the model registry (modules/registry, which reads these settings, so it is injected
 * rather than imported): the provider ids an organization may allow, and the epoch bump that makes every instance
 * reload its routing when `allowed_providers` or `default_models` change.
 */
export interface SettingsRegistryPort {
  knownProviderIds(orgId: string): Promise<ReadonlySet<string>>;
  bumpEpoch(executor: Database): Promise<void>;
}

/** Enterprise settings of an organization, including SSO with a sealed client secret. */
export class SettingsService {
  readonly #db: Database;
  readonly #secretBox: SecretBox;
  readonly #registry: SettingsRegistryPort | undefined;

  constructor(db: Database, secretBox: SecretBox, registry?: SettingsRegistryPort) {
    this.#db = db;
    this.#secretBox = secretBox;
    this.#registry = registry;
  }

  async read(scope: OrgScope): Promise<OrgSettings> {
    const organization = await findOrganization(new OrganizationRepository(this.#db), scope);
    return parseOrgSettings(organization.settings);
  }

  async update(scope: OrgScope, patch: SettingsPatch): Promise<OrgSettings> {
    const now = Date.now();
    if (patch.allowedProviders !== undefined && this.#registry !== undefined) {
      const known = await this.#registry.knownProviderIds(scope.orgId);
      const unknown = patch.allowedProviders.findIndex((id) => !known.has(id));
      if (unknown !== -1) {
        throw new AppError(
          'invalid_request',
          `allowed_providers: unknown provider "${patch.allowedProviders[unknown]}"`,
          {
            param: `allowed_providers[${unknown}]`,
          },
        );
      }
    }
    return this.#db.transaction().execute(async (transaction) => {
      const organizations = new OrganizationRepository(transaction);
      const organization = await findOrganization(organizations, scope);
      const before = parseOrgSettings(organization.settings);
      const after = this.#apply(scope, before, patch);
      await organizations.writeSettings(scope, serializeOrgSettings(after), now);
      await this.#registry?.bumpEpoch(transaction);
      // Budget periods begin in this zone: every instance reloads the organization's traffic policy.
      if (after.timeZone !== before.timeZone) await bumpTrafficEpochWithin(transaction);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'organization.settings_update',
          targetType: 'organization_settings',
          targetId: scope.orgId,
          before: auditSnapshot(before),
          after: auditSnapshot(after),
        },
        now,
      );
      return after;
    });
  }

  #apply(scope: OrgScope, current: OrgSettings, patch: SettingsPatch): OrgSettings {
    const ssoPatch = patch.sso ?? {};
    let clientSecretSealed = current.sso.clientSecretSealed;
    if (ssoPatch.clientSecret === null) clientSecretSealed = null;
    if (typeof ssoPatch.clientSecret === 'string') {
      clientSecretSealed = this.#secretBox.encrypt(ssoPatch.clientSecret, ssoSecretContext(scope.orgId));
    }
    const issuer = ssoPatch.issuer === undefined ? current.sso.issuer : ssoPatch.issuer;
    if (patch.timeZone !== undefined && !isValidTimeZone(patch.timeZone)) {
      throw new AppError('invalid_request', 'time_zone must be an IANA time zone name such as Europe/Berlin', {
        param: 'time_zone',
      });
    }
    if (issuer !== null) checkIssuer(issuer);
    const next: OrgSettings = {
      defaultModels: unique(patch.defaultModels ?? current.defaultModels),
      allowedProviders: unique(patch.allowedProviders ?? current.allowedProviders),
      dataRetentionDays: patch.dataRetentionDays ?? current.dataRetentionDays,
      requestBodyLogging: patch.requestBodyLogging ?? current.requestBodyLogging,
      timeZone: patch.timeZone ?? current.timeZone,
      sso: {
        enabled: ssoPatch.enabled ?? current.sso.enabled,
        issuer,
        clientId: ssoPatch.clientId === undefined ? current.sso.clientId : ssoPatch.clientId,
        clientSecretSealed,
        defaultRole: ssoPatch.defaultRole ?? current.sso.defaultRole,
        allowedDomains: unique(
          (ssoPatch.allowedDomains ?? current.sso.allowedDomains).map((domain) => domain.toLowerCase()),
        ),
      },
    };
    if (next.sso.enabled) {
      const missing = [
        next.sso.issuer === null ? 'sso.issuer' : undefined,
        next.sso.clientId === null ? 'sso.client_id' : undefined,
        next.sso.clientSecretSealed === null ? 'sso.client_secret' : undefined,
      ].filter((field) => field !== undefined);
      if (missing.length > 0) {
        throw new AppError('invalid_request', `SSO cannot be enabled without ${missing.join(', ')}`, {
          param: missing[0],
        });
      }
    }
    return next;
  }
}

/**
 * The SSO settings the sign-in flow needs, with the client secret unsealed: undefined when the organization does not
 * exist, is deleted, has no complete SSO configuration, or its secret does not unseal. Takes a bare organization id
 * because it runs before anyone is signed in; it only reads.
 */
export async function readSsoSettings(
  db: Database,
  orgId: string,
  secretBox: SecretBox,
): Promise<OrgSsoSettings | undefined> {
  const settings = await new OrganizationRepository(db).findSettingsBeforeSignIn(orgId);
  if (settings === undefined) return undefined;
  const { sso } = parseOrgSettings(settings);
  if (sso.issuer === null || sso.clientId === null || sso.clientSecretSealed === null) return undefined;
  let clientSecret: string;
  try {
    clientSecret = secretBox.decrypt(sso.clientSecretSealed, ssoSecretContext(orgId));
  } catch {
    return undefined;
  }
  return {
    enabled: sso.enabled,
    issuer: sso.issuer,
    clientId: sso.clientId,
    clientSecret,
    defaultRole: sso.defaultRole,
    allowedDomains: sso.allowedDomains,
  };
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An OpenID issuer is an https URL without credentials, query or fragment (OpenID Connect Discovery §3). Plain http
 * is accepted only for loopback hosts, for local identity providers during development.
 */
function checkIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new AppError('invalid_request', 'sso.issuer must be an absolute https URL', { param: 'sso.issuer' });
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && loopbackHosts.has(url.hostname));
  if (!secure || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new AppError('invalid_request', 'sso.issuer must be an https URL without credentials, query or fragment', {
      param: 'sso.issuer',
    });
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Settings as the audit log shows them: whether a client secret is set, never the sealed value. */
function auditSnapshot(settings: OrgSettings): Record<string, unknown> {
  return {
    default_models: settings.defaultModels,
    allowed_providers: settings.allowedProviders,
    data_retention_days: settings.dataRetentionDays,
    request_body_logging: settings.requestBodyLogging,
    time_zone: settings.timeZone,
    sso: {
      enabled: settings.sso.enabled,
      issuer: settings.sso.issuer,
      client_id: settings.sso.clientId,
      has_client_credential: settings.sso.clientSecretSealed !== null,
      default_role: settings.sso.defaultRole,
      allowed_domains: settings.sso.allowedDomains,
    },
  };
}
