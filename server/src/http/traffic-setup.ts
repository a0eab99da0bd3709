import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { BudgetStatus, TrafficAdmin } from '../api/api-context.ts';
import type { Config } from '../config/config.ts';
import { MemoryTrafficStore } from '../gateway/traffic/memory-traffic-store.ts';
import { TrafficControl, type BudgetFigures } from '../gateway/traffic/traffic-control.ts';
import type { TrafficStore } from '../gateway/traffic/traffic-store.ts';
import type { TrafficService } from '../modules/traffic/index.ts';

export interface Traffic {
  readonly control: TrafficControl;
  readonly admin: TrafficAdmin;
  /** Live instances as the heartbeats count them (1 without Redis). */
  instanceCount(): number;
  close(): Promise<void>;
}

/**
 * Wires traffic control: its rules and spend from the database (modules/traffic), its counters in this process or,
 * with REDIS_URL, in Redis shared by every instance. While Redis is unreachable each instance enforces its share of
 * every limit (the limit divided by the live instances, counted from heartbeats in the database) and says so once in
 * the log; requests never fail because of it.
 */
export async function createTraffic(
  config: Config,
  service: TrafficService,
  log: FastifyBaseLogger,
  now: (() => number) | undefined,
): Promise<Traffic> {
  const clock = now ?? Date.now;
  const instanceId = randomUUID();
  let liveInstances = 1;
  let heartbeat: NodeJS.Timeout | undefined;
  const redisUrl = config.operations.redisUrl;
  // Several instances can share PostgreSQL (not the embedded SQLite file): then each one counts itself alive, so that
  // without Redis each enforces its share of every limit.
  const clustered = redisUrl !== undefined || config.databaseUrl !== undefined;
  let store: TrafficStore;
  if (!clustered) {
    store = new MemoryTrafficStore();
  } else {
    const { FallbackTrafficStore } = await import('../gateway/traffic/fallback-traffic-store.ts');
    // Loaded only in cluster mode: an instance on its own does not carry the Redis client.
    const primary = redisUrl
      ? new (await import('../gateway/traffic/redis-traffic-store.ts')).RedisTrafficStore({ url: redisUrl })
      : undefined;
    // Requests made before Redis answers would be counted locally; a Redis that does not answer soon is an outage,
    // which the fallback reports on the first request.
    await primary?.ready(2000).catch(() => {});
    store = new FallbackTrafficStore({
      primary,
      instanceCount: () => liveInstances,
      ...(now ? { now } : {}),
      onFallback: (error) =>
        log.warn(
          { err: error, instances: liveInstances },
          'Redis unreachable: each instance enforces its share of every limit and budget until it returns',
        ),
      onRecover: () => log.info('Redis reachable again: limits and budgets are shared across instances'),
    });
    if (!primary) {
      log.info('no REDIS_URL: each instance enforces its share of every limit and budget (limit ÷ live instances)');
    }
    const beat = async (): Promise<void> => {
      try {
        const at = clock();
        await service.heartbeat(instanceId, at);
        liveInstances = Math.max(1, await service.countLiveInstances(at, config.traffic.heartbeatMs * 3));
      } catch (error) {
        log.warn({ err: error }, 'could not record this instance as alive; the instance count stays as it was');
      }
    };
    await beat();
    heartbeat = setInterval(() => void beat(), config.traffic.heartbeatMs);
    heartbeat.unref();
  }

  const control = new TrafficControl({
    store,
    source: service,
    config: config.traffic,
    ...(now ? { now } : {}),
    onAlert: (alert) =>
      log.warn(
        {
          subject: `${alert.subjectType}:${alert.subjectId}`,
          threshold: alert.threshold,
          amountMicros: alert.amountMicros,
          spentMicros: alert.spentMicros,
        },
        `budget ${alert.threshold} % spent`,
      ),
    onBackgroundError: (error, task) => log.warn({ err: error, task }, 'traffic control background task failed'),
  });
  await control.start();

  const present = (figures: BudgetFigures): BudgetStatus => ({
    spentMicros: figures.spent,
    reservedMicros: figures.reserved,
    periodStart: figures.period.start,
    resetsAt: figures.period.end,
  });
  const admin: TrafficAdmin = {
    budgetStatus: async (rule) => present(await control.ruleBudgetStatus(rule)),
    keyBudgetStatus: async (key) =>
      key.budgetMicros === null
        ? undefined
        : present(await control.keyBudgetStatus(key.id, key.orgId, key.budgetPeriod)),
  };

  return {
    control,
    admin,
    instanceCount: () => liveInstances,
    close: async () => {
      clearInterval(heartbeat);
      await control.close();
      if (clustered) await service.forgetInstance(instanceId).catch(() => {});
    },
  };
}
