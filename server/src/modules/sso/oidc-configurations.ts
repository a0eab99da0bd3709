import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import {
  checkOutboundUrl,
  createOutboundFetch,
  type OutboundFetch,
  type OutboundUrlPolicy,
} from '../../lib/outbound-url.ts';
import type { OrgSsoSettings } from '../tenancy/index.ts';

interface CachedConfiguration {
  readonly configuration: oidc.Configuration;
  /** The client credentials it was built with: a changed secret must not keep using the old one. */
  readonly clientFingerprint: string;
  readonly expiresAt: number;
}

export interface OidcConfigurationsOptions {
  readonly outbound: OutboundUrlPolicy;
  /** How long discovered issuer metadata is reused. */
  readonly cacheTtlMs?: number;
  readonly timeoutSeconds?: number;
}

/**
 * openid-client Configurations (discovered issuer metadata plus the organization's client), one per organization and
 * issuer, reused for a few minutes so a login does not fetch the discovery document and JWKS every time. Every HTTP
 * request they make (discovery, token, JWKS, userinfo) goes through the SSRF-checked outbound fetch.
 */
export class OidcConfigurations {
  readonly #cache = new Map<string, CachedConfiguration>();
  readonly #outbound: OutboundFetch;
  readonly #policy: OutboundUrlPolicy;
  readonly #cacheTtlMs: number;
  readonly #timeoutSeconds: number;

  constructor(options: OidcConfigurationsOptions) {
    this.#policy = options.outbound;
    this.#outbound = createOutboundFetch(options.outbound);
    this.#cacheTtlMs = options.cacheTtlMs ?? 5 * 60 * 1000;
    this.#timeoutSeconds = options.timeoutSeconds ?? 10;
  }

  async get(
    orgId: string,
    settings: Pick<OrgSsoSettings, 'issuer' | 'clientId' | 'clientSecret'>,
    now = Date.now(),
  ): Promise<oidc.Configuration> {
    const key = `${orgId}\n${settings.issuer}`;
    const clientFingerprint = createHash('sha256')
      .update(`${settings.clientId}\n${settings.clientSecret}`)
      .digest('base64url');
    const cached = this.#cache.get(key);
    if (cached && cached.expiresAt > now && cached.clientFingerprint === clientFingerprint) return cached.configuration;

    const issuer = checkOutboundUrl(settings.issuer, this.#policy);
    const outboundFetch: oidc.CustomFetch = (url, options) => this.#outbound.fetch(url, options);
    const configuration = await oidc.discovery(
      issuer,
      settings.clientId,
      undefined,
      // client_secret_basic is the OpenID Connect default every provider supports.
      oidc.ClientSecretBasic(settings.clientSecret),
      {
        [oidc.customFetch]: outboundFetch,
        // Only reachable for a loopback issuer with allowInsecureLoopback: checkOutboundUrl refused every other http URL.
        execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout: this.#timeoutSeconds,
      },
    );
    this.#prune(now);
    this.#cache.set(key, { configuration, clientFingerprint, expiresAt: now + this.#cacheTtlMs });
    return configuration;
  }

  close(): Promise<void> {
    this.#cache.clear();
    return this.#outbound.close();
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#cache) if (entry.expiresAt <= now) this.#cache.delete(key);
  }
}
