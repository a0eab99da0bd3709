import { randomUUID } from 'node:crypto';
import type { ApiKeyRow } from '../../db/schema.ts';
import { displayPrefix, generateKeySecret, hashKeySecret, keyPrefix } from './key-secret.ts';
import type { KeyRepository } from './key-repository.ts';

/** The principal a request acts as once its key is verified. */
/** Scopes a key can hold. Keys without explicit scopes get the gateway scopes. */
export const keyScopes = ['chat', 'embeddings', 'models', 'management:read', 'management:write'] as const;
export type KeyScope = (typeof keyScopes)[number];
export const defaultKeyScopes: readonly KeyScope[] = ['chat', 'embeddings', 'models'];

export interface KeyPrincipal {
  readonly keyId: string;
  readonly userId: string;
  readonly orgId: string | null;
  readonly teamId: string | null;
  /** Public model names this key may call, or null for all. */
  readonly allowedModels: ReadonlySet<string> | null;
  readonly scopes: ReadonlySet<KeyScope>;
  /** IPs/CIDRs the key may be used from, or null for anywhere. */
  readonly ipAllowlist: readonly string[] | null;
  readonly expiresAt: number | null;
}

export type KeyLookup =
  { status: 'valid'; principal: KeyPrincipal } | { status: 'unknown' } | { status: 'revoked' } | { status: 'expired' };

export interface CreateKeyInput {
  name: string;
  userId: string;
  orgId?: string | null;
  scopes?: readonly KeyScope[] | null;
  allowedModels?: readonly string[] | null;
  expiresAt?: number | null;
  /** Use this secret instead of generating one (bootstrap from AIHUB_BOOTSTRAP_KEY). */
  secret?: string;
}

export interface KeySummary {
  id: string;
  name: string;
  userId: string;
  prefix: string;
  allowedModels: string[] | null;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  createdAt: number;
}

export class KeyService {
  readonly #repository: KeyRepository;
  readonly #now: () => number;

  constructor(repository: KeyRepository, now: () => number = Date.now) {
    this.#repository = repository;
    this.#now = now;
  }

  /** Creates a key and returns its secret: the only time the secret exists outside the caller's hands. */
  async create(input: CreateKeyInput): Promise<{ key: KeySummary; secret: string }> {
    const secret = input.secret ?? generateKeySecret();
    if (secret.length < 20) throw new Error('a key must be at least 20 characters long');
    const now = this.#now();
    const row: ApiKeyRow = {
      id: randomUUID(),
      name: input.name,
      user_id: input.userId,
      key_hash: hashKeySecret(secret),
      key_prefix: displayPrefix(secret),
      allowed_models: input.allowedModels ? JSON.stringify([...new Set(input.allowedModels)]) : null,
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
      created_at: now,
      org_id: input.orgId ?? null,
      team_id: null,
      scopes: input.scopes ? JSON.stringify([...new Set(input.scopes)]) : null,
      ip_allowlist: null,
      rpm_limit: null,
      tpm_limit: null,
      budget_micros: null,
      rotated_from: null,
      updated_at: now,
    };
    await this.#repository.insert(row);
    return { key: toSummary(row), secret };
  }

  async list(): Promise<KeySummary[]> {
    return (await this.#repository.list()).map(toSummary);
  }

  revoke(id: string): Promise<boolean> {
    return this.#repository.revoke(id, this.#now());
  }

  /** Resolves a presented secret. Only hashes are compared; the secret is never stored or logged. */
  async lookup(secret: string): Promise<KeyLookup> {
    return this.lookupByHash(hashKeySecret(secret));
  }

  async lookupByHash(keyHash: string): Promise<KeyLookup> {
    const row = await this.#repository.findByHash(keyHash);
    if (!row) return { status: 'unknown' };
    if (row.revoked_at !== null) return { status: 'revoked' };
    if (row.expires_at !== null && row.expires_at <= this.#now()) return { status: 'expired' };
    return { status: 'valid', principal: toPrincipal(row) };
  }

  readRevocationEpoch(): Promise<number> {
    return this.#repository.readEpoch();
  }

  touchLastUsed(lastUsedByKey: ReadonlyMap<string, number>): Promise<void> {
    return this.#repository.touchLastUsed(lastUsedByKey);
  }
}

function toPrincipal(row: ApiKeyRow): KeyPrincipal {
  return {
    keyId: row.id,
    userId: row.user_id,
    orgId: row.org_id,
    teamId: row.team_id,
    allowedModels: row.allowed_models ? new Set(JSON.parse(row.allowed_models) as string[]) : null,
    scopes: new Set(row.scopes ? (JSON.parse(row.scopes) as KeyScope[]) : defaultKeyScopes),
    ipAllowlist: row.ip_allowlist ? (JSON.parse(row.ip_allowlist) as string[]) : null,
    expiresAt: row.expires_at,
  };
}

function toSummary(row: ApiKeyRow): KeySummary {
  return {
    id: row.id,
    name: row.name,
    userId: row.user_id,
    prefix: row.key_prefix,
    allowedModels: row.allowed_models ? (JSON.parse(row.allowed_models) as string[]) : null,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
  };
}

export { keyPrefix, hashKeySecret };
