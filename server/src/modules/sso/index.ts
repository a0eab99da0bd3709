export { SsoLoginService } from './sso-login-service.ts';
export type {
  BeginLoginInput,
  CompleteLoginInput,
  CompletedLogin,
  SsoSettings,
  SsoSettingsReader,
} from './sso-login-service.ts';
export { OidcConfigurations } from './oidc-configurations.ts';
export { SsoTransactionSealer, ssoTransactionCookie, ssoTransactionTtlMs } from './sso-transaction.ts';
export { readReturnTo } from './return-to.ts';
export { readSsoRuntimeOptions } from './sso-runtime-options.ts';
export type { SsoRuntimeOptions } from './sso-runtime-options.ts';
export type { SsoIdentitiesTable } from '../../db/schema.ts';
