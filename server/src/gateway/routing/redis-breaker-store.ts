import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { BreakerState, BreakerStore, SharedBreakerState } from './breaker-store.ts';

export interface RedisBreakerStoreOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Prefix of the hash and the channel; instances that share breakers use the same one. */
  prefix?: string;
  /** Tells this instance's publications apart from others'; random by default. */
  instanceId?: string;
  /**
   * Called once when Redis becomes unreachable or fails (and once more after each recovery and new failure); every
   * other error of the outage is swallowed. Breakers keep working on their own meanwhile.
   */
  onError?: (error: unknown) => void;
  /** How long an instance starting later still takes an `open` or `half-open` state as current. */
  stateTtlMs?: number;
  /** The same for `disabled`: a credential stays out of service across restarts for this long unless re-enabled. */
  disabledTtlMs?: number;
  /** A command that gets no answer within this fails (a hung server), so nothing piles up in memory. */
  commandTimeoutMs?: number;
  /**
   * How often both connections are pinged. A connection whose ping fails or times out is dropped and reopened, so a
   * silently dead link (no reset ever arrives) does not leave this instance deaf to the others for good.
   */
  healthCheckMs?: number;
  now?: () => number;
}

interface StoredState {
  readonly origin: string;
  readonly key: string;
  readonly state: BreakerState;
  readonly since: number;
  readonly reason: string;
  readonly expiresAt: number;
}

const breakerStates: ReadonlySet<string> = new Set<BreakerState>(['closed', 'open', 'half-open', 'disabled']);

/**
 * Writes a state unless the hash already holds a later one for the key (so a transition replayed after an outage
 * cannot undo a newer one made elsewhere), then publishes it. KEYS: hash, channel. ARGV: field, JSON, since, TTL.
 */
const writeStateScript = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if ok and type(stored) == 'table' and type(stored.since) == 'number' and stored.since > tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
`;

/**
 * Shares breaker transitions across instances through Redis: each transition is kept in one hash (so an instance
 * that starts later loads the current states) and published on a channel (so running instances learn it at once).
 * Redis is never on a request's path: publications are fire-and-forget, commands fail at once while disconnected
 * (no offline queue) and time out when Redis hangs, and the clients reconnect on their own. After each reconnection
 * the store replays this instance's transitions that could not be sent, then reloads everyone's.
 */
export class RedisBreakerStore implements BreakerStore {
  readonly #url: string;
  readonly #hashKey: string;
  readonly #channel: string;
  readonly #instanceId: string;
  readonly #onError: (error: unknown) => void;
  readonly #stateTtlMs: number;
  readonly #disabledTtlMs: number;
  readonly #commandTimeoutMs: number;
  readonly #healthCheckMs: number;
  readonly #now: () => number;
  /** The latest transition per key that did not reach Redis, replayed after a reconnection. */
  readonly #unsent = new Map<string, StoredState>();
  #client: Redis | undefined;
  #subscriber: Redis | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #apply: ((state: SharedBreakerState) => void) | undefined;
  #subscribed = false;
  #warned = false;
  #closed = false;
  #errorCount = 0;

  constructor(options: RedisBreakerStoreOptions) {
    const prefix = options.prefix ?? 'aihub:breaker:';
    this.#url = options.url;
    this.#hashKey = `${prefix}states`;
    this.#channel = `${prefix}transitions`;
    this.#instanceId = options.instanceId ?? randomUUID();
    this.#onError = options.onError ?? (() => {});
    this.#stateTtlMs = options.stateTtlMs ?? 600_000;
    this.#disabledTtlMs = options.disabledTtlMs ?? 30 * 86_400_000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.#healthCheckMs = options.healthCheckMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  /** Whether both connections are up and subscribed (for readiness reports and tests). */
  get connected(): boolean {
    return this.#subscribed && this.#client?.status === 'ready';
  }

  /** Errors seen so far, reported or swallowed (connection attempts, commands, unreadable states). */
  get errorCount(): number {
    return this.#errorCount;
  }

  start(apply: (state: SharedBreakerState) => void): void {
    if (this.#client !== undefined || this.#closed) return;
    this.#apply = apply;
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#commandTimeoutMs,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    };
    const client = new Redis(this.#url, options);
    const subscriber = new Redis(this.#url, { ...options, autoResubscribe: false });
    this.#client = client;
    this.#subscriber = subscriber;
    client.on('error', (error) => this.#warn(error));
    subscriber.on('error', (error) => this.#warn(error));
    client.on('ready', () => this.#synchronize());
    subscriber.on('ready', () => {
      subscriber.subscribe(this.#channel).then(
        () => {
          this.#subscribed = true;
          this.#synchronize();
        },
        (error: unknown) => this.#warn(error),
      );
    });
    subscriber.on('close', () => {
      this.#subscribed = false;
    });
    subscriber.on('message', (_channel: string, message: string) => this.#receive(message));
    this.#healthTimer = setInterval(() => this.#checkHealth(), this.#healthCheckMs);
    this.#healthTimer.unref();
  }

  publish(state: SharedBreakerState): void {
    if (this.#client === undefined || this.#closed) return;
    const ttlMs = state.state === 'disabled' ? this.#disabledTtlMs : this.#stateTtlMs;
    const stored: StoredState = {
      origin: this.#instanceId,
      key: state.key,
      state: state.state,
      since: state.since,
      reason: state.reason,
      expiresAt: this.#now() + ttlMs,
    };
    this.#write(this.#client, stored);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#healthTimer);
    this.#client?.disconnect();
    this.#subscriber?.disconnect();
  }

  #write(client: Redis, stored: StoredState): void {
    // The hash lives as long as its longest-lived state would; each entry carries its own expiry for readers.
    client
      .eval(
        writeStateScript,
        2,
        this.#hashKey,
        this.#channel,
        stored.key,
        JSON.stringify(stored),
        stored.since,
        this.#disabledTtlMs,
      )
      .then(
        () => {
          if (this.#unsent.get(stored.key) === stored) this.#unsent.delete(stored.key);
        },
        (error: unknown) => {
          this.#unsent.set(stored.key, stored);
          this.#warn(error);
        },
      );
  }

  #checkHealth(): void {
    for (const connection of [this.#client, this.#subscriber]) {
      if (connection?.status !== 'ready') continue;
      connection.ping().catch((error: unknown) => {
        this.#warn(error);
        if (!this.#closed) connection.disconnect(true);
      });
    }
  }

  /** Once both connections are up: send what could not be sent, then load the states everyone holds now. */
  #synchronize(): void {
    const client = this.#client;
    if (client === undefined || !this.connected || this.#closed) return;
    this.#warned = false;
    for (const stored of this.#unsent.values()) this.#write(client, stored);
    client.hgetall(this.#hashKey).then(
      (fields) => {
        const now = this.#now();
        for (const message of Object.values(fields)) {
          const stored = parseStoredState(message);
          if (stored !== undefined && stored.expiresAt > now) this.#deliver(stored);
        }
      },
      (error: unknown) => this.#warn(error),
    );
  }

  #receive(message: string): void {
    const stored = parseStoredState(message);
    if (stored !== undefined) this.#deliver(stored);
  }

  #deliver(stored: StoredState): void {
    if (stored.origin === this.#instanceId || this.#closed) return;
    try {
      this.#apply?.({ key: stored.key, state: stored.state, since: stored.since, reason: stored.reason });
    } catch (error) {
      this.#warn(error);
    }
  }

  #warn(error: unknown): void {
    if (this.#closed) return;
    this.#errorCount += 1;
    if (this.#warned) return;
    this.#warned = true;
    this.#onError(error);
  }
}

function parseStoredState(message: string): StoredState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Record<string, unknown>;
  if (
    typeof candidate.origin !== 'string' ||
    typeof candidate.key !== 'string' ||
    typeof candidate.state !== 'string' ||
    !breakerStates.has(candidate.state) ||
    typeof candidate.since !== 'number' ||
    typeof candidate.reason !== 'string' ||
    typeof candidate.expiresAt !== 'number'
  ) {
    return undefined;
  }
  return candidate as unknown as StoredState;
}
