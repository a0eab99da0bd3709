import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import { classifyDatabaseError, databaseUnavailable } from './database-faults.ts';

export interface PostgresPoolOptions {
  readonly connectionString: string;
  readonly poolSize: number;
  readonly postgresSchema: string | undefined;
  /** Longest wait for a connection: the TCP connect and startup, or a free slot in a full pool. */
  readonly connectTimeoutMs: number;
  /**
   * Server-side statement timeout. The client gives up a little later, so a slow statement is cancelled by the
   * server (and its connection kept) while a server that answers nothing at all is detected by the client.
   */
  readonly queryTimeoutMs: number | undefined;
  readonly getTypeParser: (typeId: number, format?: 'text' | 'binary') => (value: string) => unknown;
}

/** What happened to the database connection, for the log: told once per outage, not once per failed query. */
export type DatabaseFault =
  | { readonly kind: 'connection_lost'; readonly error: unknown }
  | { readonly kind: 'unavailable'; readonly error: unknown }
  | { readonly kind: 'recovered'; readonly downForMs: number };

export interface DatabaseReachability {
  readonly reachable: boolean;
  /** The driver's message for the failure that made the database unreachable (or the last dropped connection). */
  readonly lastError: string | undefined;
  /** When the current outage began (epoch ms), if there is one. */
  readonly unreachableSince: number | undefined;
}

/** Time the client waits beyond the server's statement timeout before it decides the server is gone. */
const clientTimeoutGraceMs = 1000;

/**
 * The pg pool as Kysely sees it, made safe for a database that goes away.
 *
 * - Every pooled client and the pool itself have an `'error'` listener, so a dropped connection (a terminated
 *   backend, a restart, a failover, an idle timeout) is removed from the pool instead of crashing the process.
 * - Every connect and statement has a deadline, so a database that stops answering turns into a prompt error.
 * - Driver errors that mean "unreachable" become the closed-set `database_unavailable` error here, in one place.
 * - After a failure, calls fail at once while one trial call at a time probes the database, so a black-holed
 *   database does not make every request wait out the timeouts; the first successful statement closes the outage.
 */
export class ResilientPostgresPool implements PostgresPool {
  readonly pool: pg.Pool;
  readonly #queryTimeoutMs: number | undefined;
  #reachable = true;
  #trialInFlight = false;
  #lastError: string | undefined;
  #unreachableSince: number | undefined;
  #lossReported = false;
  #listener: ((fault: DatabaseFault) => void) | undefined;

  constructor(options: PostgresPoolOptions) {
    this.#queryTimeoutMs =
      options.queryTimeoutMs === undefined ? undefined : options.queryTimeoutMs + clientTimeoutGraceMs;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      ...(options.queryTimeoutMs === undefined ? {} : { statement_timeout: options.queryTimeoutMs }),
      types: { getTypeParser: options.getTypeParser },
      options: options.postgresSchema ? `-c search_path=${options.postgresSchema}` : undefined,
    });
    // An idle client whose connection dies is removed by the pool, which then emits 'error' on itself.
    this.pool.on('error', (error) => this.#noteConnectionLost(error));
    // A checked-out client whose connection dies between statements emits 'error' on the client; its statements
    // fail on their own, and the pool discards it on release.
    this.pool.on('connect', (client) => client.on('error', (error) => this.#noteConnectionLost(error)));
  }

  /** Told about outages and recoveries (the app logs them). */
  observe(listener: (fault: DatabaseFault) => void): void {
    this.#listener = listener;
  }

  get reachability(): DatabaseReachability {
    return { reachable: this.#reachable, lastError: this.#lastError, unreachableSince: this.#unreachableSince };
  }

  async connect(): Promise<PostgresPoolClient> {
    const trial = !this.#reachable;
    if (trial) {
      if (this.#trialInFlight) throw databaseUnavailable(new Error(this.#lastError ?? 'the database is unreachable'));
      this.#trialInFlight = true;
    }
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      if (trial) this.#trialInFlight = false;
      throw this.#toError(error);
    }
    return new ResilientClient(client, this, trial);
  }

  end(): Promise<void> {
    return this.pool.end();
  }

  get queryTimeoutMs(): number | undefined {
    return this.#queryTimeoutMs;
  }

  /** Maps a driver error; an unreachable database also opens an outage. */
  toError(error: unknown): unknown {
    return this.#toError(error);
  }

  /** Whether a client that saw this error must be discarded rather than reused. */
  isConnectionFault(error: unknown): boolean {
    return classifyDatabaseError(error) === 'unreachable';
  }

  noteSuccess(): void {
    this.#trialInFlight = false;
    this.#lossReported = false;
    if (this.#reachable) return;
    const downForMs = Date.now() - (this.#unreachableSince ?? Date.now());
    this.#reachable = true;
    this.#unreachableSince = undefined;
    this.#listener?.({ kind: 'recovered', downForMs });
  }

  endTrial(): void {
    this.#trialInFlight = false;
  }

  #toError(error: unknown): unknown {
    const kind = classifyDatabaseError(error);
    if (kind === undefined) return error;
    if (kind === 'unreachable') {
      this.#lastError = error instanceof Error ? error.message : String(error);
      if (this.#reachable) {
        this.#reachable = false;
        this.#unreachableSince = Date.now();
        this.#listener?.({ kind: 'unavailable', error });
      }
    }
    return databaseUnavailable(error);
  }

  #noteConnectionLost(error: Error): void {
    // A lost connection alone is not an outage (one backend terminated, an idle timeout): the next statement
    // decides. Told once until a statement succeeds again, so a failover that drops every pooled connection is
    // one line in the log, not one per connection.
    this.#lastError = error.message;
    if (this.#lossReported) return;
    this.#lossReported = true;
    this.#listener?.({ kind: 'connection_lost', error });
  }
}

class ResilientClient implements PostgresPoolClient {
  readonly #client: pg.PoolClient;
  readonly #owner: ResilientPostgresPool;
  #trial: boolean;
  #broken = false;

  constructor(client: pg.PoolClient, owner: ResilientPostgresPool, trial: boolean) {
    this.#client = client;
    this.#owner = owner;
    this.#trial = trial;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    statement: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof statement !== 'string') {
      return (this.#client as unknown as { query(cursor: PostgresCursor<R>): PostgresCursor<R> }).query(statement);
    }
    const timeout = this.#owner.queryTimeoutMs;
    return this.#client
      .query({
        text: statement,
        values: parameters ? [...parameters] : [],
        ...(timeout ? { query_timeout: timeout } : {}),
      })
      .then(
        (result) => {
          this.#trial = false;
          this.#owner.noteSuccess();
          return result as unknown as PostgresQueryResult<R>;
        },
        (error: unknown) => {
          // A statement that timed out on the client may still be running on the connection: never reuse it.
          if (this.#owner.isConnectionFault(error)) this.#broken = true;
          throw this.#owner.toError(error);
        },
      );
  }

  release(destroy?: boolean): void {
    if (this.#trial) this.#owner.endTrial();
    this.#client.release(destroy === true || this.#broken);
  }
}
