import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/database.ts';
import { runPingQuery } from '../db/database-ping.ts';
import type { UsageBacklog } from '../gateway/meter/usage-journal.ts';

export interface HealthDependencies {
  readonly database: DatabaseHandle;
  readonly usageBacklog: () => UsageBacklog;
  /**
   * Longest the readiness probe waits for the database (default 1 s): a black-holed database must turn into
   * "not ready" well within a load balancer's probe timeout, not hang the probe.
   */
  readonly readinessTimeoutMs?: number;
}

const defaultReadinessTimeoutMs = 1000;

/**
 * Liveness (the process answers) and readiness (it can reach its database). Liveness never depends on the database:
 * an outage must not get healthy instances restarted, and usage keeps going to the journal meanwhile. Readiness also
 * reports the usage backlog waiting for the database.
 */
export function registerHealth(app: FastifyInstance, dependencies: HealthDependencies): void {
  const { database } = dependencies;
  const timeoutMs = dependencies.readinessTimeoutMs ?? defaultReadinessTimeoutMs;
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const failure = await pingDatabase(database, timeoutMs);
    const reachability = database.reachability();
    const body = {
      status: failure === undefined ? 'ready' : 'not_ready',
      database: {
        engine: database.engine,
        reachable: failure === undefined,
        ...(failure === undefined ? {} : { error: failure }),
        ...(reachability.unreachableSince === undefined
          ? {}
          : { unreachable_for_ms: Math.max(0, Date.now() - reachability.unreachableSince) }),
      },
      usage_journal: presentBacklog(dependencies.usageBacklog()),
    };
    return reply.code(failure === undefined ? 200 : 503).send(body);
  });
}

/** Undefined when the database answered in time; otherwise why not. */
async function pingDatabase(database: DatabaseHandle, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  const ping = runPingQuery(database.db).then(
    () => undefined,
    (error: unknown) => describeFailure(error),
  );
  try {
    return await Promise.race([ping, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The driver's own words ("Connection terminated", "connect ECONNREFUSED …") say more than the 503's message. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}

function presentBacklog(backlog: UsageBacklog): Record<string, unknown> {
  return {
    pending_records: backlog.pendingRecords,
    on_disk_only_records: backlog.onDiskOnlyRecords,
    oldest_pending_age_ms: backlog.oldestPendingAgeMs ?? null,
    consecutive_failures: backlog.consecutiveFailures,
    last_error: backlog.lastError ?? null,
  };
}
