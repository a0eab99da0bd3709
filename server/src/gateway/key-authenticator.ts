import { AppError } from '../errors/app-error.ts';
import { hashKeySecret, type KeyLookup, type KeyPrincipal } from '../modules/keys/index.ts';

export interface KeyDirectory {
  lookupByHash(keyHash: string): Promise<KeyLookup>;
  readRevocationEpoch(): Promise<number>;
  /** Changes committed in this process (revocation, rotation, narrowing): the cache drops them at once. */
  onKeysChanged?(listener: () => void): () => void;
}

export interface KeyAuthenticatorOptions {
  revocationPollMs: number;
  /** How long a verified key is trusted without asking the database again. */
  positiveTtlMs?: number;
  /** How long an unknown or revoked key is remembered, so floods of bad keys do not reach the database. */
  negativeTtlMs?: number;
  maxEntries?: number;
  /**
   * While the database is unreachable, a verified key whose cache entry aged out keeps being served for this long
   * after it was verified, so a long outage does not turn warm traffic away. Revocations cannot be read during an
   * outage anyway; they apply as soon as the database answers again.
   */
  staleIfUnavailableMs?: number;
  now?: () => number;
  onPollError?: (error: unknown) => void;
}

interface CacheEntry {
  readonly lookup: KeyLookup;
  readonly cachedAt: number;
}

/**
 * Resolves API keys to principals. Warm requests are answered from memory (one hash, one Map read);
 * revocation anywhere bumps an epoch in the database that every instance polls, dropping its cache.
 */
export class KeyAuthenticator {
  readonly #directory: KeyDirectory;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<KeyLookup>>();
  readonly #positiveTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #maxEntries: number;
  readonly #staleIfUnavailableMs: number;
  readonly #now: () => number;
  readonly #options: KeyAuthenticatorOptions;
  #epoch: number | undefined;
  /** Bumped on every invalidation; a lookup that straddles one is not cached. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(directory: KeyDirectory, options: KeyAuthenticatorOptions) {
    this.#directory = directory;
    // The key service announces its own committed changes; other instances' changes arrive by the epoch poll.
    this.#unsubscribe = directory.onKeysChanged?.(() => this.invalidate());
    this.#options = options;
    this.#positiveTtlMs = options.positiveTtlMs ?? 300_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 10_000;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#staleIfUnavailableMs = options.staleIfUnavailableMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#epoch = await this.#directory.readRevocationEpoch();
    this.#timer = setInterval(() => void this.#pollEpoch(), this.#options.revocationPollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  /** Drops every cached key: on a key change in this process, and when another instance changed one. */
  invalidate(): void {
    this.#generation += 1;
    this.#cache.clear();
  }

  async authenticate(secret: string | undefined): Promise<KeyPrincipal> {
    if (!secret)
      throw new AppError('missing_api_key', 'no API key: send it as "Authorization: Bearer <key>" or "x-api-key"');
    const keyHash = hashKeySecret(secret);
    const now = this.#now();
    const cached = this.#cache.get(keyHash);
    const lookup =
      cached && now - cached.cachedAt < (cached.lookup.status === 'valid' ? this.#positiveTtlMs : this.#negativeTtlMs)
        ? cached.lookup
        : await this.#reload(keyHash, cached, now);
    switch (lookup.status) {
      case 'valid':
        if (lookup.principal.expiresAt !== null && lookup.principal.expiresAt <= now) {
          throw new AppError('expired_api_key', 'this API key has expired');
        }
        return lookup.principal;
      case 'expired':
        throw new AppError('expired_api_key', 'this API key has expired');
      case 'revoked':
        throw new AppError('revoked_api_key', 'this API key has been revoked');
      case 'owner_inactive':
        throw new AppError('revoked_api_key', "this API key's owner is disabled or deleted");
      case 'unknown':
        throw new AppError('invalid_api_key', 'the API key is not valid');
    }
  }

  async #reload(keyHash: string, cached: CacheEntry | undefined, now: number): Promise<KeyLookup> {
    try {
      return await this.#load(keyHash);
    } catch (error) {
      const servable =
        cached?.lookup.status === 'valid' &&
        error instanceof AppError &&
        error.code === 'database_unavailable' &&
        now - cached.cachedAt < this.#staleIfUnavailableMs;
      if (servable) return cached.lookup;
      throw error;
    }
  }

  #load(keyHash: string): Promise<KeyLookup> {
    let pending = this.#inFlight.get(keyHash);
    if (!pending) {
      const generationAtStart = this.#generation;
      pending = this.#directory
        .lookupByHash(keyHash)
        .then((lookup) => {
          // A revocation seen while this lookup ran may not be in its answer: do not cache it then.
          if (this.#generation === generationAtStart) {
            if (this.#cache.size >= this.#maxEntries) this.#cache.clear();
            this.#cache.set(keyHash, { lookup, cachedAt: this.#now() });
          }
          return lookup;
        })
        .finally(() => this.#inFlight.delete(keyHash));
      this.#inFlight.set(keyHash, pending);
    }
    return pending;
  }

  async #pollEpoch(): Promise<void> {
    try {
      const epoch = await this.#directory.readRevocationEpoch();
      if (epoch !== this.#epoch) {
        this.#epoch = epoch;
        this.invalidate();
      }
    } catch (error) {
      this.#options.onPollError?.(error);
    }
  }
}

/** Reads the key from `Authorization: Bearer …` or `x-api-key` (the Anthropic convention). */
export function extractKey(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : undefined;
}
