import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import {
  callGateway,
  chatBody,
  createOrgKey,
  createTenant,
  getKey,
  sleep,
  sumCost,
  usageOfKey,
  type Tenant,
} from './traffic-control-support.ts';

/** Streams cut by their client over a real socket give back what they held and pay what they used. */
describe('traffic control and client disconnects', () => {
  let testApp: TestApp;
  let origin: string;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp();
    origin = await listenOnLoopback(testApp.instance.app);
    tenant = await createTenant(testApp);
    // A cut stream's usage is counted with the tokenizer: loaded here once, so metering a cut is quick in the tests.
    const warmUp = await createOrgKey(testApp, tenant);
    await callGateway(testApp.instance, warmUp.secret, {
      path: '/v1/messages/count_tokens',
      body: { model: 'test', messages: [{ role: 'user', content: 'hello' }] },
    });
  });
  afterAll(async () => {
    await testApp.close();
  });

  function stream(secret: string, signal?: AbortSignal): Promise<Response> {
    return fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chatBody, stream: true, stream_options: { include_usage: true } }),
      ...(signal ? { signal } : {}),
    });
  }

  /** Starts a stream, reads its first chunk, then drops the connection; resolves when the client is gone. */
  async function cutStreamAfterFirstChunk(secret: string): Promise<{ cutAt: number }> {
    const abort = new AbortController();
    const cut = await stream(secret, abort.signal);
    expect(cut.status).toBe(200);
    expect(cut.headers.get('content-type')).toContain('text/event-stream');
    const reader = (cut.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    return {
      cutAt: await (async () => {
        // While it runs, the key's one slot is taken.
        const meanwhile = await stream(secret);
        expect(meanwhile.status).toBe(429);
        const error = ((await meanwhile.json()) as { error: { code: string; message: string } }).error;
        expect(error.code).toBe('rate_limit_exceeded');
        expect(error.message).toContain('concurrency limit of this API key');
        abort.abort();
        await reader.cancel().catch(() => {});
        return Date.now();
      })(),
    };
  }

  it('frees the concurrency slot of a stream its client dropped at once', async () => {
    const key = await createOrgKey(testApp, tenant, { concurrency_limit: 1, budget_micros: 1_000_000 });
    // Ten chunks 100 ms apart: the stream runs about a second unless it is cut.
    testApp.upstream.setOptions({ chunkDelayMs: 100 });
    try {
      const { cutAt } = await cutStreamAfterFirstChunk(key.secret);
      // Well before the cut stream would have ended, a new one is admitted.
      let next: Response | undefined;
      while (Date.now() - cutAt < 500) {
        const attempt = await stream(key.secret);
        if (attempt.status === 200) {
          next = attempt;
          break;
        }
        await attempt.text();
        await sleep(20);
      }
      expect(next?.status).toBe(200);
      expect(Date.now() - cutAt).toBeLessThan(500);
      expect(await next?.text()).toContain('[DONE]');
    } finally {
      testApp.upstream.setOptions({ chunkDelayMs: 0 });
    }
  });

  it('settles the spend of a stream its client dropped: live spend equals the usage records', async () => {
    const key = await createOrgKey(testApp, tenant, { concurrency_limit: 1, budget_micros: 1_000_000 });
    testApp.upstream.setOptions({ chunkDelayMs: 100 });
    try {
      await cutStreamAfterFirstChunk(key.secret);
    } finally {
      testApp.upstream.setOptions({ chunkDelayMs: 0 });
    }
    // The gateway notices the cut at its next write, then meters what was delivered (counting it with the tokenizer).
    let records = await usageOfKey(testApp, key.id);
    for (const deadline = Date.now() + 5000; records.length === 0 && Date.now() < deadline;) {
      await sleep(50);
      records = await usageOfKey(testApp, key.id);
    }
    expect(records.map((record) => record.outcome)).toEqual(['client_disconnected']);
    const spent = sumCost(records);
    expect(spent).toBeGreaterThan(0);
    await sleep(100);
    const view = (await getKey(testApp, tenant, key.id)).json<{
      budget_spent_micros: number;
      budget_reserved_micros: number;
    }>();
    expect(view.budget_reserved_micros).toBe(0);
    expect(view.budget_spent_micros).toBe(spent);
  });
});
