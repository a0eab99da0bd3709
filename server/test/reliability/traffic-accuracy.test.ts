import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import type { AppInstance } from '../../src/http/create-app.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { parseSseData } from '../support/server-sent-events.ts';
import { startSecondInstance } from '../support/second-instance.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { createTestKey } from '../support/test-keys.ts';

const redisUrl = 'redis://127.0.0.1:6379';

/**
 * The accuracy targets of traffic control, on both state backends: in this process (the embedded default, one
 * instance) and in Redis (two instances sharing PostgreSQL and Redis, requests alternating between them, as behind a
 * load balancer). Requests go over real sockets; concurrency is measured where it lands, at the upstream.
 */
const backends = [
  { name: 'in-process state, one instance', cluster: false },
  { name: 'Redis state, two instances', cluster: true },
] as const;

describe.each(backends)('traffic control accuracy: $name', ({ cluster }) => {
  let testApp: TestApp;
  let other: AppInstance | undefined;
  /** The instances' origins; requests alternate between them. */
  let origins: string[];

  beforeAll(async () => {
    testApp = await startTestApp({
      engine: cluster ? 'postgres' : 'sqlite',
      ...(cluster ? { overrides: { operations: { redisUrl } } as unknown as Partial<Config> } : {}),
    });
    origins = [await listenOnLoopback(testApp.instance.app)];
    if (cluster) {
      other = await startSecondInstance(testApp);
      origins.push(await listenOnLoopback(other.app));
    }
  });
  afterAll(async () => {
    await other?.close();
    await testApp.close();
  });

  const instances = (): AppInstance[] => (other ? [testApp.instance, other] : [testApp.instance]);

  it('admits 600 of 1,200 requests fired at once against 600 requests per minute (±2 %)', async () => {
    const { secret } = await createTestKey(testApp, { rpmLimit: 600 });
    const answers = await runPool(1200, 48, (index) => chat(origins[index % origins.length] as string, secret));
    const admitted = answers.filter((answer) => answer.status === 200).length;
    const refused = answers.filter((answer) => answer.status === 429);
    expect(Math.abs(admitted - 600)).toBeLessThanOrEqual(12);
    expect(admitted + refused.length).toBe(1200);
    expect(refused[0]?.code).toBe('rate_limit_exceeded');
    expect(Number(refused[0]?.retryAfter)).toBeGreaterThan(0);
  });

  it('keeps 400 concurrent requests within a budget that covers about 50 of them', async () => {
    // One request: about 9 prompt tokens at 2.50 and 10 completion tokens at 10.00 per million; the reservation is
    // the body's byte bound at the input price plus max_tokens (16) at the output price.
    const budget = 6_000;
    const { key, secret } = await createTestKey(testApp, { budgetMicros: budget });
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, index) =>
        chat(origins[index % origins.length] as string, secret, { stream: index % 2 === 1 }),
      ),
    );
    const admitted = answers.filter((answer) => answer.status === 200).length;
    const refused = answers.filter((answer) => answer.status === 429);
    expect(refused.every((answer) => answer.code === 'budget_exceeded')).toBe(true);
    for (const instance of instances()) await instance.services.gateway.journal.flush();
    const records = (await testApp.instance.services.usage.listRecent(10_000)).filter(
      (record) => record.key_id === key.id,
    );
    expect(records).toHaveLength(admitted);
    const spent = records.reduce((sum, record) => sum + record.cost_micros, 0);
    const reservation = Math.max(...answers.map((answer) => answer.reservation ?? 0));
    // The stated bound: with every request's cost within its reservation (max_tokens given, a prompt bound that
    // never falls short), spend never passes the budget; and never by more than one reservation in any case.
    expect(spent).toBeLessThanOrEqual(budget);
    expect(spent).toBeLessThanOrEqual(budget + reservation);
    // Not needlessly strict either: the requests admitted use most of the budget.
    expect(spent).toBeGreaterThan(budget - 2 * reservation);
    expect(admitted).toBeGreaterThanOrEqual(40);
  });

  it('never has more than 20 streams in flight at the upstream under 100 concurrent clients', async () => {
    const { secret } = await createTestKey(testApp, { concurrencyLimit: 20 });
    testApp.upstream.setOptions({ chunkDelayMs: 10 });
    testApp.upstream.resetStats();
    try {
      const attempts = await Promise.all(
        Array.from({ length: 100 }, async (_, index) => {
          // Each client tries until its stream went through, as a client honouring 429 would.
          for (let attempt = 1; ; attempt += 1) {
            const answer = await chat(origins[index % origins.length] as string, secret, { stream: true });
            if (answer.status === 200 && answer.complete) return attempt;
            if (answer.status !== 429 || attempt > 500) throw new Error(`stream failed: ${answer.status}`);
            await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
          }
        }),
      );
      const stats = testApp.upstream.stats();
      expect(stats.ok).toBe(100);
      expect(stats.peakInFlight).toBeLessThanOrEqual(20);
      // The limit was what held them back: it was reached, and clients had to wait for it.
      expect(stats.peakInFlight).toBeGreaterThanOrEqual(15);
      expect(attempts.some((count) => count > 1)).toBe(true);
    } finally {
      testApp.upstream.setOptions({ chunkDelayMs: undefined });
    }
  });
});

interface ChatAnswer {
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
  /** A 200 whose answer was complete. */
  readonly complete: boolean;
  /** The reservation a budget refusal names, in micro-USD. */
  readonly reservation: number | undefined;
}

async function chat(origin: string, secret: string, options: { stream?: boolean } = {}): Promise<ChatAnswer> {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'test',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 16,
      ...(options.stream ? { stream: true } : {}),
    }),
  });
  const text = await response.text();
  if (response.status !== 200) {
    const error = (JSON.parse(text) as { error: { code: string; message: string } }).error;
    const reserved = /reserves up to (\d+) micro-USD/.exec(error.message);
    return {
      status: response.status,
      code: error.code,
      retryAfter: response.headers.get('retry-after'),
      complete: false,
      reservation: reserved ? Number(reserved[1]) : undefined,
    };
  }
  const complete = options.stream ? parseSseData(text).at(-1) === '[DONE]' : text.includes('"choices"');
  return { status: 200, code: undefined, retryAfter: null, complete, reservation: undefined };
}

/** Runs `count` tasks with at most `width` at once, as fast as they complete. */
async function runPool<T>(count: number, width: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const index = next;
        next += 1;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}
