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
  let store: TrafficStore;
  const redisUrl = config.operations.redisUrl;
  if (redisUrl) {
    // Loaded only in cluster mode: an instance on its own does not carry the Redis client.
    const [{ RedisTrafficStore }, { FallbackTrafficStore }] = await Promise.all([
      import('../gateway/traffic/redis-traffic-store.ts'),
      import('../gateway/traffic/fallback-traffic-store.ts'),
    ]);
    const primary = new RedisTrafficStore({ url: redisUrl });
    // Requests made before Redis answers would be counted locally; a Redis that does not answer soon is an outage,
    // which the fallback reports on the first request.
    await primary.ready(2000).catch(() => {});
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
  } else {
    store = new MemoryTrafficStore();
    if (config.databaseUrl !== undefined) {
      log.warn(
        'limits and budgets are counted by each instance on its own: with more than one instance, set REDIS_URL ' +
          'so that they hold across all of them',
      );
    }
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
      if (redisUrl) await service.forgetInstance(instanceId).catch(() => {});
    },
  };
}
