import type { Config } from '../../config/config.ts';

/** Operator settings for SSO (never per organization: an organization admin must not be able to relax them). */
export interface SsoRuntimeOptions {
  /** The origin browsers reach this server at (AIHUB_PUBLIC_URL); redirect URIs are built from it, never from Host. */
  readonly publicUrl: string;
  /** Allow an `http://` issuer on a loopback host (tests, local development). Off in production. */
  readonly allowInsecureLoopback: boolean;
}

export function readSsoRuntimeOptions(config: Config): SsoRuntimeOptions {
  return {
    publicUrl: config.identity.publicUrl.replace(/\/+$/, ''),
    allowInsecureLoopback: config.sso.allowInsecureLoopback,
  };
}
