import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { buildUsageRecord } from '../support/usage-record-builder.ts';

/** What a load balancer and an operator read from the health routes while all is well. */
describe('health routes', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    // No timed flush: a record appended by the test stays pending until the test flushes it.
    testApp = await startTestApp({ overrides: { metering: { flushIntervalMs: 60_000, maxBatchSize: 500 } } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('says ready with the database engine and an empty usage backlog', async () => {
    const response = await testApp.instance.app.inject({ method: 'GET', url: '/health/ready' });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      status: 'ready',
      database: { engine: 'sqlite', reachable: true },
      usage_journal: {
        pending_records: 0,
        on_disk_only_records: 0,
        oldest_pending_age_ms: null,
        consecutive_failures: 0,
        last_error: null,
      },
    });
  });

  it('shows usage records waiting for the database', async () => {
    const journal = testApp.instance.services.gateway.journal;
    journal.append(buildUsageRecord());

    const response = await testApp.instance.app.inject({ method: 'GET', url: '/health/ready' });
    await journal.flush();

    expect(response.json()).toMatchObject({ usage_journal: { pending_records: 1 } });
  });

  it('keeps liveness free of the database', async () => {
    const response = await testApp.instance.app.inject({ method: 'GET', url: '/health/live' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });
});
