import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { SecretBox } from '../../lib/secret-box.ts';

/** What the callback needs from the login that started it. */
export interface SsoTransaction {
  readonly orgId: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** The exact redirect_uri sent to the identity provider; the token request must repeat it. */
  readonly redirectUri: string;
  readonly returnTo: string;
  readonly expiresAt: number;
}

export const ssoTransactionCookie = 'aihub_sso';
/** Long enough to type a password and pass a second factor at the identity provider. */
export const ssoTransactionTtlMs = 10 * 60 * 1000;

/**
 * The login transaction travels in a cookie, sealed with AES-256-GCM under a key derived from AIHUB_SECRET_KEY:
 * the browser can neither read the PKCE verifier nor alter any field, and any instance can open it, so no table and
 * no clean-up job are needed. The organization id is bound in as associated data, so a cookie from one
 * organization's login does not open at another's callback.
 */
export class SsoTransactionSealer {
  readonly #box: SecretBox;

  constructor(secretKey: Buffer) {
    this.#box = new SecretBox(
      Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'aihub sso transaction v1', 32)),
    );
  }

  seal(transaction: SsoTransaction): string {
    return this.#box.encrypt(JSON.stringify(transaction), associatedData(transaction.orgId));
  }

  /** The transaction, or undefined when the cookie is missing, forged, for another organization or expired. */
  open(sealed: string | undefined, orgId: string, now = Date.now()): SsoTransaction | undefined {
    if (sealed === undefined || sealed === '') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#box.decrypt(sealed, associatedData(orgId)));
    } catch {
      return undefined;
    }
    if (!isTransaction(parsed) || parsed.orgId !== orgId || parsed.expiresAt <= now) return undefined;
    return parsed;
  }
}

/** Compares the returned `state` with the stored one in constant time. */
export function stateMatches(transaction: SsoTransaction, state: string | undefined): boolean {
  if (state === undefined) return false;
  const expected = Buffer.from(transaction.state);
  const presented = Buffer.from(state);
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}

function associatedData(orgId: string): string {
  return `sso-transaction:${orgId}`;
}

function isTransaction(value: unknown): value is SsoTransaction {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return (
    ['orgId', 'state', 'nonce', 'codeVerifier', 'redirectUri', 'returnTo'].every(
      (field) => typeof record[field] === 'string',
    ) && typeof record.expiresAt === 'number'
  );
}
