import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ApiKeyRow, DatabaseSchema, OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { conflictOnDuplicate } from '../../db/unique-violation.ts';
import type { Actor, OrgScope } from '../shared/index.ts';
import { assertWithinAuthority, inheritAuthority, type KeyBounds } from './key-authority.ts';
import { displayPrefix, generateKeySecret, hashKeySecret, keyPrefix } from './key-secret.ts';
import {
  KeyRepository,
  type KeyListFilters,
  type KeyListWindow,
  type KeyOwnerFilter,
  type KeyStatus,
} from './key-repository.ts';
import {
  defaultKeyScopes,
  keyBudgetPeriods,
  keyScopes,
  validateKeySettings,
  type KeyBudgetPeriod,
  type KeyScope,
  type KeySettings,
  type KeySettingsInput,
} from './key-settings.ts';

export { keyScopes, defaultKeyScopes };
export type { KeyScope };

/** The principal a request acts as once its key is verified. */
export interface KeyPrincipal {
  readonly keyId: string;
  readonly userId: string;
  readonly orgId: string | null;
  readonly teamId: string | null;
  /** Public model names this key may call, or null for all. */
  readonly allowedModels: ReadonlySet<string> | null;
  readonly scopes: ReadonlySet<KeyScope>;
  /** IPs/CIDRs (normal form) the key may be used from, or null for anywhere. */
  readonly ipAllowlist: readonly string[] | null;
  readonly expiresAt: number | null;
  /** The key's own traffic limits (null: none), enforced by the gateway's traffic control. */
  readonly limits: KeyTrafficLimits;
}

/** A key's own rate, concurrency and spending limits. */
export interface KeyTrafficLimits {
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly concurrencyLimit: number | null;
  readonly budgetMicros: number | null;
  readonly budgetPeriod: KeyBudgetPeriod;
}

/** `owner_inactive`: the key's user is disabled or deleted; a key acts as its user and stops with them. */
export type KeyLookup =
  | { status: 'valid'; principal: KeyPrincipal }
  | { status: 'unknown' }
  | { status: 'revoked' }
  | { status: 'expired' }
  | { status: 'owner_inactive' };

/** A key made by the operator (CLI, bootstrap) or a test: owner and organization are trusted as given. */
export interface CreateKeyInput extends Omit<KeySettingsInput, 'name'> {
  name: string;
  userId: string;
  orgId?: string | null;
  teamId?: string | null;
  /** Use this secret instead of generating one (bootstrap from AIHUB_BOOTSTRAP_KEY). */
  secret?: string;
}

/** A key made through the management API, inside the caller's organization. */
export interface CreateOrgKeyInput extends KeySettingsInput {
  name: string;
  /** Makes it a team key: needs team admin on that team, or an organization role that manages every key. */
  teamId?: string | null | undefined;
  /** Another member to own the key; only for roles that manage every key. Default: the caller. */
  userId?: string | undefined;
}

export interface KeySummary {
  id: string;
  name: string;
  orgId: string | null;
  teamId: string | null;
  userId: string;
  prefix: string;
  status: KeyStatus;
  scopes: KeyScope[];
  allowedModels: string[] | null;
  ipAllowlist: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  concurrencyLimit: number | null;
  budgetMicros: number | null;
  budgetPeriod: KeyBudgetPeriod;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  rotatedFrom: string | null;
  createdAt: number;
  updatedAt: number | null;
}

export interface CreatedKey {
  key: KeySummary;
  /** The secret, returned once and never stored. */
  secret: string;
}

export const defaultRotationGraceSeconds = 86_400;
export const maxRotationGraceSeconds = 7 * 86_400;

/** A key as the access rules see it: whose it is and which team, if any, it belongs to. */
export interface KeyTarget {
  readonly userId: string;
  readonly teamId: string | null;
}

/** What a caller does to a key that already exists. */
export type KeyAction = 'keys.update.own' | 'keys.rotate.own' | 'keys.revoke.own';

/**
 * Who may do what with keys: the tenancy module's Authorizer, backed by the permission matrix. KeyService asks it and
 * never looks at roles itself.
 */
export interface KeyAccessRules {
  mayHoldKeys(role: OrgRole): boolean;
  mayReadAllKeys(scope: OrgScope): boolean;
  maySeeKey(scope: OrgScope, key: KeyTarget): boolean;
  authorizeKeyCreation(scope: OrgScope, key: KeyTarget): Promise<void>;
  authorizeKeyAction(scope: OrgScope, action: KeyAction, key: KeyTarget): Promise<void>;
}

export interface KeyServiceOptions {
  /** The clock expiry, rotation grace and timestamps are read from (tests move it instead of sleeping). */
  now?: () => number;
  /** Needed by the management methods (`…InOrg`); the operator's CLI works without. */
  access?: KeyAccessRules;
}

/**
 * API keys: creation (secret shown once, stored as a hash), the hot-path lookup, and management inside an
 * organization. Every change is one transaction with its audit event; changes that can narrow or end a key also bump
 * the keys cache epoch, so every instance drops its cached principals, and once committed tell this process's
 * listeners (the gateway's key cache) at once.
 */
export class KeyService {
  readonly #repository: KeyRepository;
  readonly #now: () => number;
  readonly #access: KeyAccessRules | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(repository: KeyRepository, options: KeyServiceOptions = {}) {
    this.#repository = repository;
    this.#now = options.now ?? Date.now;
    this.#access = options.access;
  }

  /** Calls `listener` after every committed change that may affect authentication; returns the unsubscribe. */
  onKeysChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells this process's listeners that keys changed; for changes made with `revokeWithin` once they commit. */
  announceChange(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Creates a key for the operator (CLI, bootstrap) and returns its secret. */
  async create(input: CreateKeyInput): Promise<CreatedKey> {
    const now = this.#now();
    const settings = validateKeySettings({ ...input, scopes: input.scopes ?? defaultKeyScopes }, now, {
      allowPastExpiry: true,
    });
    return this.#insert(
      {
        userId: input.userId,
        orgId: input.orgId ?? null,
        teamId: input.teamId ?? null,
        rotatedFrom: null,
        secret: input.secret,
        settings: completeSettings(settings, input.name),
      },
      null,
      now,
    );
  }

  /** Every key of the installation, newest first: for the operator's CLI. */
  async list(): Promise<KeySummary[]> {
    const now = this.#now();
    return (await this.#repository.list()).map((row) => toSummary(row, now));
  }

  /** Revokes a key for the operator; false when there is no active key with this id. */
  async revoke(id: string): Promise<boolean> {
    const row = await this.#repository.findById(id);
    if (!row || row.revoked_at !== null) return false;
    return (await this.#revokeRow(row, null)) !== undefined;
  }

  /** Rotates a key for the operator; undefined when there is no key with this id. */
  async rotate(id: string, gracePeriodSeconds = defaultRotationGraceSeconds): Promise<CreatedKey | undefined> {
    const row = await this.#repository.findById(id);
    return row ? this.#rotateRow(row, gracePeriodSeconds, null) : undefined;
  }

  async createInOrg(scope: OrgScope, input: CreateOrgKeyInput): Promise<CreatedKey> {
    const access = this.#accessRules();
    const now = this.#now();
    const teamId = input.teamId ?? null;
    if (teamId !== null && !(await this.#repository.teamExists(scope, teamId))) {
      throw new AppError('invalid_request', 'team_id: no team with this id in the organization', {
        param: 'team_id',
      });
    }
    const userId = input.userId ?? scope.actor.userId;
    await access.authorizeKeyCreation(scope, { userId, teamId });
    if (userId !== scope.actor.userId && !(await this.#repository.isMember(scope, userId))) {
      throw new AppError('invalid_request', 'user_id: no member with this id in the organization', {
        param: 'user_id',
      });
    }
    let settings: Partial<KeySettings> = validateKeySettings(input, now);
    const authority = await this.#authorityOf(scope);
    if (authority) {
      settings = { ...settings, ...inheritAuthority(authority, settings) };
      assertWithinAuthority(authority, { ...settings, teamId });
    }
    return this.#insert(
      {
        userId,
        orgId: scope.orgId,
        teamId,
        rotatedFrom: null,
        secret: undefined,
        settings: completeSettings(settings, input.name),
      },
      scope.actor,
      now,
      { checkHolder: true },
    );
  }

  /**
   * Keys of the organization the caller may see: every key for roles with keys.read.all, otherwise only their own.
   * Returns up to `window.limit + 1` keys (the extra one tells the caller another page exists).
   */
  async listInOrg(scope: OrgScope, filters: KeyListFilters, window: KeyListWindow): Promise<KeySummary[]> {
    const now = this.#now();
    if (!this.#accessRules().mayReadAllKeys(scope)) {
      if (filters.userId !== undefined && filters.userId !== scope.actor.userId) return [];
      filters = { ...filters, userId: scope.actor.userId };
    }
    return (await this.#repository.listInOrg(scope, filters, window, now)).map((row) => toSummary(row, now));
  }

  async getInOrg(scope: OrgScope, id: string): Promise<KeySummary> {
    return toSummary(await this.#findVisible(scope, id), this.#now());
  }

  /** Changes a key's name, scopes, allowlists, limits or expiry. Owner and team never change. */
  async updateInOrg(scope: OrgScope, id: string, input: KeySettingsInput): Promise<KeySummary> {
    const row = await this.#findVisible(scope, id);
    await this.#accessRules().authorizeKeyAction(scope, 'keys.update.own', targetOf(row));
    if (row.revoked_at !== null) throw new AppError('conflict', 'a revoked key cannot be changed');
    const now = this.#now();
    const settings = validateKeySettings(input, now);
    const authority = await this.#authorityOf(scope);
    if (authority) assertWithinAuthority(authority, settings);
    const updated = await this.#repository.transaction(async (keys, executor) => {
      const changed = await keys.update(row.id, { ...toColumns(settings), updated_at: now });
      if (!changed) throw new AppError('not_found', 'key not found');
      // Every change bumps, not only narrowing ones: cached principals carry the key's limits and budget, so a raised
      // or lowered limit reaches every instance within one poll of the epoch.
      await keys.bumpEpoch();
      await audit(executor, scope.actor, 'key.update', row, changed, now);
      return toSummary(changed, now);
    });
    this.announceChange();
    return updated;
  }

  async rotateInOrg(scope: OrgScope, id: string, gracePeriodSeconds: number): Promise<CreatedKey> {
    const row = await this.#findVisible(scope, id);
    await this.#accessRules().authorizeKeyAction(scope, 'keys.rotate.own', targetOf(row));
    // The replacement carries every right of the key it replaces, so rotating is like creating that key again.
    const authority = await this.#authorityOf(scope);
    if (authority) assertWithinAuthority(authority, { ...settingsOf(row), teamId: row.team_id });
    return this.#rotateRow(row, gracePeriodSeconds, scope.actor);
  }

  /** Revokes a key; revoking one already revoked changes nothing and returns it as it is. */
  async revokeInOrg(scope: OrgScope, id: string): Promise<KeySummary> {
    const row = await this.#findVisible(scope, id);
    await this.#accessRules().authorizeKeyAction(scope, 'keys.revoke.own', targetOf(row));
    if (row.revoked_at !== null) return toSummary(row, this.#now());
    const revoked = await this.#revokeRow(row, scope.actor);
    return revoked ?? toSummary(row, this.#now());
  }

  /**
   * Revokes keys of the organization inside the caller's transaction (a member who leaves, is removed or loses the
   * right to hold keys; a deleted team or organization) and bumps the epoch there, so the revocation commits or
   * rolls back with the change that caused it. Call `announceChange()` after the commit when this returned > 0.
   */
  async revokeWithin(executor: Kysely<DatabaseSchema>, scope: OrgScope, which: KeyOwnerFilter): Promise<number> {
    const keys = new KeyRepository(executor);
    const revoked = await keys.revokeInOrganization(scope, this.#now(), which);
    if (revoked > 0) await keys.bumpEpoch();
    return revoked;
  }

  /**
   * For a change to a user that affects their keys without touching them (disabling or re-enabling the account):
   * bumps the epoch in the caller's transaction so every instance looks the keys up again and sees the owner's state.
   * Call `announceChange()` after the commit.
   */
  async ownerChangedWithin(executor: Kysely<DatabaseSchema>): Promise<void> {
    await new KeyRepository(executor).bumpEpoch();
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
    if (!row.owner_active) return { status: 'owner_inactive' };
    return { status: 'valid', principal: toPrincipal(row) };
  }

  readRevocationEpoch(): Promise<number> {
    return this.#repository.readEpoch();
  }

  touchLastUsed(lastUsedByKey: ReadonlyMap<string, number>): Promise<void> {
    return this.#repository.touchLastUsed(lastUsedByKey);
  }

  /** For the CLI: the organization a key of `userId` goes into (the given one, or their oldest) and its team. */
  async resolveOperatorTarget(
    userId: string,
    orgId: string | undefined,
    teamId: string | undefined,
  ): Promise<{ orgId: string; teamId: string | null }> {
    const target = await this.#repository.findOperatorTarget(userId, orgId, teamId);
    if (target.orgId === undefined) {
      throw new AppError(
        'invalid_request',
        orgId === undefined
          ? 'the owner belongs to no organization; pass one with --org'
          : `the owner is not a member of organization ${orgId}`,
        { param: 'org_id' },
      );
    }
    if (teamId !== undefined && !target.teamFound) {
      throw new AppError('invalid_request', `no team ${teamId} in organization ${target.orgId}`, { param: 'team_id' });
    }
    return { orgId: target.orgId, teamId: teamId ?? null };
  }

  async #insert(
    key: {
      userId: string;
      orgId: string | null;
      teamId: string | null;
      rotatedFrom: string | null;
      secret: string | undefined;
      settings: KeySettings;
    },
    actor: Actor | null,
    now: number,
    options: { checkHolder?: boolean } = {},
  ): Promise<CreatedKey> {
    const secret = key.secret ?? generateKeySecret();
    if (secret.length < 20) throw new Error('a key must be at least 20 characters long');
    const row = newRow(key, secret, now);
    await this.#repository.transaction(async (keys, executor) => {
      if (options.checkHolder) await this.#assertHolder(keys, row);
      await keys.insert(row);
      await audit(executor, actor, 'key.create', undefined, row, now);
    });
    return { key: toSummary(row, now), secret };
  }

  async #revokeRow(row: ApiKeyRow, actor: Actor | null): Promise<KeySummary | undefined> {
    const now = this.#now();
    const revoked = await this.#repository.transaction(async (keys, executor) => {
      if (!(await keys.markRevoked(row.id, now))) return undefined;
      await keys.bumpEpoch();
      const after: ApiKeyRow = { ...row, revoked_at: now, updated_at: now };
      await audit(executor, actor, 'key.revoke', row, after, now);
      return toSummary(after, now);
    });
    if (revoked) this.announceChange();
    return revoked;
  }

  /**
   * Rotation: a new key with the same owner and settings (rotated_from = old id), and the old key's expiry pulled in
   * to now + grace, so clients can switch over without downtime. A key is rotated at most once: the unique index on
   * rotated_from (migration 0005) makes the second of two concurrent rotations fail, answered 409; retiring the old
   * key only while it is still active stops a rotation racing a revocation.
   */
  async #rotateRow(row: ApiKeyRow, gracePeriodSeconds: number, actor: Actor | null): Promise<CreatedKey> {
    if (!Number.isSafeInteger(gracePeriodSeconds) || gracePeriodSeconds < 0) {
      throw new AppError('invalid_request', 'grace_period_seconds must be a non-negative integer', {
        param: 'grace_period_seconds',
      });
    }
    if (gracePeriodSeconds > maxRotationGraceSeconds) {
      throw new AppError('invalid_request', `grace_period_seconds may be at most ${maxRotationGraceSeconds} (7 days)`, {
        param: 'grace_period_seconds',
      });
    }
    const now = this.#now();
    const status = statusOf(row, now);
    if (status !== 'active') throw new AppError('conflict', `this key is ${status} and cannot be rotated`);
    const alreadyRotated = 'this key was already rotated; rotate its replacement instead';
    if (await this.#repository.hasSuccessor(row.id)) throw new AppError('conflict', alreadyRotated);
    const secret = generateKeySecret();
    const replacement = newRow(
      {
        userId: row.user_id,
        orgId: row.org_id,
        teamId: row.team_id,
        rotatedFrom: row.id,
        settings: settingsOf(row),
      },
      secret,
      now,
    );
    const graceEnds = now + gracePeriodSeconds * 1000;
    const oldExpiry = row.expires_at === null ? graceEnds : Math.min(row.expires_at, graceEnds);
    await conflictOnDuplicate(
      this.#repository.transaction(async (keys, executor) => {
        if (actor !== null) await this.#assertHolder(keys, replacement);
        await keys.insert(replacement);
        if (!(await keys.retire(row.id, oldExpiry, now))) {
          throw new AppError('conflict', 'this key was revoked or expired a moment ago and cannot be rotated');
        }
        await keys.bumpEpoch();
        const retiring: ApiKeyRow = { ...row, expires_at: oldExpiry, updated_at: now };
        await audit(executor, actor, 'key.rotate', row, { ...retiring, replaced_by: replacement.id }, now);
        await audit(executor, actor, 'key.create', undefined, replacement, now);
      }),
      alreadyRotated,
    );
    this.announceChange();
    return { key: toSummary(replacement, now), secret };
  }

  async #findVisible(scope: OrgScope, id: string): Promise<ApiKeyRow> {
    const row = await this.#repository.findInOrg(scope, id);
    // Keys the caller may not see are reported missing, like keys of other organizations.
    if (!row || !this.#accessRules().maySeeKey(scope, targetOf(row))) {
      throw new AppError('not_found', 'key not found');
    }
    return row;
  }

  /**
   * The rights of the API key making a management call, or undefined when a person calls. A key may hand out only
   * what it has itself (see key-authority.ts).
   */
  async #authorityOf(scope: OrgScope): Promise<KeyBounds | undefined> {
    if (scope.actor.via !== 'api_key' || scope.actor.keyId === undefined) return undefined;
    const row = await this.#repository.findInOrg(scope, scope.actor.keyId);
    if (!row) throw new AppError('forbidden', 'the API key making this call does not belong to this organization');
    return { ...settingsOf(row), teamId: row.team_id };
  }

  /**
   * Inside the issuing transaction: the new key's owner is still a member whose role may hold keys, and its team
   * still exists (see KeyRepository.lockHolder). Keys outside organizations (the operator's) are not checked.
   */
  async #assertHolder(keys: KeyRepository, row: ApiKeyRow): Promise<void> {
    if (row.org_id === null) return;
    const holder = await keys.lockHolder(row.org_id, row.user_id, row.team_id);
    if (holder.memberRole === undefined) {
      throw new AppError('conflict', "the key's owner is no longer a member of this organization");
    }
    if (this.#access && !this.#access.mayHoldKeys(holder.memberRole)) {
      throw new AppError('forbidden', `the ${holder.memberRole} role may not hold keys (keys.hold)`);
    }
    if (!holder.teamFound) throw new AppError('conflict', "the key's team no longer exists");
  }

  #accessRules(): KeyAccessRules {
    if (!this.#access) throw new Error('KeyService needs access rules (the Authorizer) for organization keys');
    return this.#access;
  }
}

function targetOf(row: ApiKeyRow): KeyTarget {
  return { userId: row.user_id, teamId: row.team_id };
}

function completeSettings(settings: Partial<KeySettings>, name: string): KeySettings {
  return {
    name: settings.name ?? name,
    scopes: settings.scopes ?? defaultKeyScopes,
    allowedModels: settings.allowedModels ?? null,
    ipAllowlist: settings.ipAllowlist ?? null,
    expiresAt: settings.expiresAt ?? null,
    rpmLimit: settings.rpmLimit ?? null,
    tpmLimit: settings.tpmLimit ?? null,
    concurrencyLimit: settings.concurrencyLimit ?? null,
    budgetMicros: settings.budgetMicros ?? null,
    budgetPeriod: settings.budgetPeriod ?? 'total',
  };
}

function newRow(
  key: {
    userId: string;
    orgId: string | null;
    teamId: string | null;
    rotatedFrom: string | null;
    settings: KeySettings;
  },
  secret: string,
  now: number,
): ApiKeyRow {
  return {
    id: randomUUID(),
    user_id: key.userId,
    org_id: key.orgId,
    team_id: key.teamId,
    key_hash: hashKeySecret(secret),
    key_prefix: displayPrefix(secret),
    revoked_at: null,
    last_used_at: null,
    rotated_from: key.rotatedFrom,
    created_at: now,
    updated_at: now,
    name: key.settings.name,
    scopes: JSON.stringify(key.settings.scopes),
    allowed_models: key.settings.allowedModels ? JSON.stringify(key.settings.allowedModels) : null,
    ip_allowlist: key.settings.ipAllowlist ? JSON.stringify(key.settings.ipAllowlist) : null,
    expires_at: key.settings.expiresAt,
    rpm_limit: key.settings.rpmLimit,
    tpm_limit: key.settings.tpmLimit,
    concurrency_limit: key.settings.concurrencyLimit,
    budget_micros: key.settings.budgetMicros,
    budget_period: key.settings.budgetPeriod,
  };
}

function toColumns(settings: Partial<KeySettings>): Partial<ApiKeyRow> {
  const json = (value: readonly string[] | null) => (value === null ? null : JSON.stringify(value));
  return {
    ...(settings.name !== undefined ? { name: settings.name } : {}),
    ...(settings.scopes !== undefined ? { scopes: json(settings.scopes) } : {}),
    ...(settings.allowedModels !== undefined ? { allowed_models: json(settings.allowedModels) } : {}),
    ...(settings.ipAllowlist !== undefined ? { ip_allowlist: json(settings.ipAllowlist) } : {}),
    ...(settings.expiresAt !== undefined ? { expires_at: settings.expiresAt } : {}),
    ...(settings.rpmLimit !== undefined ? { rpm_limit: settings.rpmLimit } : {}),
    ...(settings.tpmLimit !== undefined ? { tpm_limit: settings.tpmLimit } : {}),
    ...(settings.concurrencyLimit !== undefined ? { concurrency_limit: settings.concurrencyLimit } : {}),
    ...(settings.budgetMicros !== undefined ? { budget_micros: settings.budgetMicros } : {}),
    ...(settings.budgetPeriod !== undefined ? { budget_period: settings.budgetPeriod } : {}),
  };
}

function settingsOf(row: ApiKeyRow): KeySettings {
  return {
    name: row.name,
    scopes: scopesOf(row),
    allowedModels: parseList(row.allowed_models),
    ipAllowlist: parseList(row.ip_allowlist),
    expiresAt: row.expires_at,
    rpmLimit: row.rpm_limit,
    tpmLimit: row.tpm_limit,
    concurrencyLimit: row.concurrency_limit,
    budgetMicros: row.budget_micros,
    budgetPeriod: budgetPeriodOf(row),
  };
}

/** Rows hold any text; one the code does not know (never written by it) reads as the default. */
function budgetPeriodOf(row: ApiKeyRow): KeyBudgetPeriod {
  return keyBudgetPeriods.find((period) => period === row.budget_period) ?? 'total';
}

function parseList(json: string | null): string[] | null {
  return json === null ? null : (JSON.parse(json) as string[]);
}

function scopesOf(row: ApiKeyRow): KeyScope[] {
  return row.scopes === null ? [...defaultKeyScopes] : (JSON.parse(row.scopes) as KeyScope[]);
}

function statusOf(row: ApiKeyRow, now: number): KeyStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_at !== null && row.expires_at <= now) return 'expired';
  return 'active';
}

function toPrincipal(row: ApiKeyRow): KeyPrincipal {
  const allowedModels = parseList(row.allowed_models);
  return {
    keyId: row.id,
    userId: row.user_id,
    orgId: row.org_id,
    teamId: row.team_id,
    allowedModels: allowedModels ? new Set(allowedModels) : null,
    scopes: new Set(scopesOf(row)),
    ipAllowlist: parseList(row.ip_allowlist),
    expiresAt: row.expires_at,
    limits: {
      rpmLimit: row.rpm_limit,
      tpmLimit: row.tpm_limit,
      concurrencyLimit: row.concurrency_limit,
      budgetMicros: row.budget_micros,
      budgetPeriod: budgetPeriodOf(row),
    },
  };
}

function toSummary(row: ApiKeyRow, now: number): KeySummary {
  return {
    id: row.id,
    name: row.name,
    orgId: row.org_id,
    teamId: row.team_id,
    userId: row.user_id,
    prefix: row.key_prefix,
    status: statusOf(row, now),
    scopes: scopesOf(row),
    allowedModels: parseList(row.allowed_models),
    ipAllowlist: parseList(row.ip_allowlist),
    rpmLimit: row.rpm_limit,
    tpmLimit: row.tpm_limit,
    concurrencyLimit: row.concurrency_limit,
    budgetMicros: row.budget_micros,
    budgetPeriod: budgetPeriodOf(row),
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    rotatedFrom: row.rotated_from,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** One audit event in the change's own transaction; snapshots are summaries, so no hash or secret can leak in. */
async function audit(
  executor: Kysely<DatabaseSchema>,
  actor: Actor | null,
  action: string,
  before: ApiKeyRow | undefined,
  after: (ApiKeyRow & { replaced_by?: string }) | undefined,
  now: number,
): Promise<void> {
  const target = after ?? before;
  await recordAuditEvent(
    executor,
    {
      orgId: target?.org_id ?? null,
      actor,
      action,
      targetType: 'api_key',
      targetId: target?.id ?? null,
      ...(before ? { before: toSummary(before, now) } : {}),
      ...(after
        ? { after: { ...toSummary(after, now), ...(after.replaced_by ? { replacedBy: after.replaced_by } : {}) } }
        : {}),
    },
    now,
  );
}

export { keyPrefix, hashKeySecret };
