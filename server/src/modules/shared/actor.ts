import type { OrgRole } from '../../db/schema.ts';

declare const orgScopeBrand: unique symbol;
declare const platformScopeBrand: unique symbol;

/** Who is calling the management API. */
export interface Actor {
  readonly userId: string;
  readonly platformRole: 'admin' | 'member';
  readonly via: 'session' | 'api_key';
  readonly keyId?: string;
  /** An API key acts only inside its own organization. */
  readonly keyOrgId?: string | null;
  readonly ip?: string;
  readonly requestId?: string;
  /** The sign-in session (refresh-token family) behind a session actor; sign-out ends it. */
  readonly sessionId?: string;
}

/**
 * Proof that the caller may act in one organization. Only the tenancy module's `Authorizer` creates it, and every
 * tenant repository method takes one, so a query that forgets the tenant cannot be written by accident.
 */
export interface OrgScope {
  readonly orgId: string;
  readonly actor: Actor;
  /** The caller's role in the organization; platform admins acting without membership get `owner` rights. */
  readonly role: OrgRole;
  readonly [orgScopeBrand]: true;
}

/** Proof that the caller is a platform admin, for the few reads that span every organization. */
export interface PlatformScope {
  readonly actor: Actor;
  readonly [platformScopeBrand]: true;
}
