import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drawFailure, failureModes, resolveFailMix, type FailureMode } from './options.ts';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';
import { chatRequest, postJson, readSse } from './test-support.ts';

/** mulberry32: a small seeded generator, so a run of drawn failures is the same every time. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const anthropicRequest = { model: 'claude-mock', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };

/** What a client saw of one streamed request, told apart without looking at the mock. */
type Seen = 'ok' | '500' | '429' | 'reset' | 'timeout' | 'abort-before-first-chunk';

async function sendStreamed(url: string, headers: Record<string, string> = {}): Promise<Seen> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(chatRequest({ stream: true })),
      // Only the timeout failure ever waits this long: every other answer takes milliseconds.
      signal: AbortSignal.timeout(1000),
    });
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? 'timeout' : 'reset';
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return String(response.status) as Seen;
  }
  const { dataLines, error } = await readSse(response);
  if (error !== undefined) {
    expect(dataLines).toEqual([]);
    return 'abort-before-first-chunk';
  }
  expect(dataLines.at(-1)).toBe('[DONE]');
  return 'ok';
}

describe('abort-before-first-chunk', () => {
  let upstream: MockUpstreamHandle;
  beforeAll(async () => {
    upstream = await startMockUpstream();
  });
  afterAll(() => upstream.close());

  it('sends the 200 head of an event stream, then drops the connection before any data', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest({ stream: true }), {
      'x-mock-fail': 'abort-before-first-chunk',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const { dataLines, error } = await readSse(response);
    expect(error).toBeDefined();
    expect(dataLines).toEqual([]);
  });

  it('does the same on an Anthropic stream: not even message_start arrives', async () => {
    const response = await postJson(
      `${upstream.url}/messages`,
      { ...anthropicRequest, stream: true },
      { 'x-mock-fail': 'abort-before-first-chunk' },
    );
    expect(response.status).toBe(200);
    const body = response.body!.getReader();
    await expect(body.read()).rejects.toThrow();
  });

  it('drops a request that is not streamed without an answer, as reset does', async () => {
    const request = postJson(`${upstream.url}/chat/completions`, chatRequest(), {
      'x-mock-fail': 'abort-before-first-chunk',
    });
    await expect(request).rejects.toThrow(TypeError);
  });
});

describe('failure mixes', () => {
  it('parses text and objects alike, leaving out modes of weight 0', () => {
    const fromText = resolveFailMix('failMix', '429:2, 500:1,reset:0 ,abort-before-first-chunk');
    expect(fromText).toEqual({
      entries: [
        { mode: '429', weight: 2 },
        { mode: '500', weight: 1 },
        { mode: 'abort-before-first-chunk', weight: 1 },
      ],
      totalWeight: 4,
    });
    expect(resolveFailMix('failMix', { '500': 1, '429': 2, reset: 0, 'abort-before-first-chunk': 1 })).toEqual(
      fromText,
    );
  });

  it.each([
    ['an unknown mode', '500:1,explode:1', 'unknown failure mode "explode"'],
    ['a negative weight', '500:-1', 'weight of 500'],
    ['a weight that is not a number', '500:many', '"500:many" is not mode:weight'],
    ['a mode given twice', '500:1,500:2', '500 is given twice'],
    ['no weight above 0', '500:0', 'at least one failure mode'],
    ['nothing at all', ' , ', 'at least one failure mode'],
  ])('refuses %s with a RangeError saying so', (_description, mix, message) => {
    expect(() => resolveFailMix('failMix', mix)).toThrow(RangeError);
    expect(() => resolveFailMix('failMix', mix)).toThrow(message);
  });

  it('draws each mode for its share of the unit interval', () => {
    const mix = resolveFailMix('failMix', '500:1,429:3');
    expect(drawFailure(mix, 0)).toBe('500');
    expect(drawFailure(mix, 0.2499)).toBe('500');
    expect(drawFailure(mix, 0.25)).toBe('429');
    expect(drawFailure(mix, 0.9999)).toBe('429');
  });

  it('refuses an unknown mode at start-up and in setOptions, keeping the mix it had', async () => {
    await expect(startMockUpstream({ failMix: { '500': 1, explode: 1 } as never })).rejects.toThrow(
      /unknown failure mode "explode"/,
    );
    const upstream = await startMockUpstream({ failMix: '503:1' });
    try {
      expect(() => upstream.setOptions({ failMix: 'explode:1' })).toThrow(RangeError);
      const response = await fetch(`${upstream.url}/models`);
      expect(response.status).toBe(503);
      await response.body?.cancel();
    } finally {
      await upstream.close();
    }
  });
});

describe('a chaotic upstream', () => {
  const chaosMix = { '500': 1, '429': 1, reset: 1, timeout: 1, 'abort-before-first-chunk': 1 } as const;
  const requestCount = 120;
  let upstream: MockUpstreamHandle;
  let chatUrl: string;
  beforeAll(async () => {
    upstream = await startMockUpstream({
      chunks: 3,
      failMix: chaosMix,
      failRate: 0.3,
      random: seededRandom(7),
      recordRequests: requestCount,
    });
    chatUrl = `${upstream.url}/chat/completions`;
  });
  afterEach(() => {
    upstream.resetStats();
    upstream.clearRequests();
  });
  afterAll(() => upstream.close());

  it('fails its share of requests with every mode of the mix, and counts exactly what it injected', async () => {
    // A few clients at a time, as a gateway would send them; the timeouts among them wait in parallel.
    const seen: Seen[] = [];
    let started = 0;
    const clients = Array.from({ length: 8 }, async () => {
      while (started < requestCount) {
        started += 1;
        seen.push(await sendStreamed(chatUrl));
      }
    });
    await Promise.all(clients);
    const seenCount = (outcome: Seen) => seen.filter((each) => each === outcome).length;

    const stats = upstream.stats();
    expect(stats.requests).toBe(requestCount);
    expect(stats.rejected).toBe(0);
    expect(stats.ok).toBe(seenCount('ok'));
    expect(stats.failed).toBe(requestCount - seenCount('ok'));
    for (const mode of Object.keys(chaosMix) as Array<keyof typeof chaosMix>) {
      expect(stats.failures[mode]).toBe(seenCount(mode));
      expect(stats.failures[mode]).toBeGreaterThan(0);
    }
    const others = failureModes.filter((mode) => !(mode in chaosMix));
    for (const mode of others) expect(stats.failures[mode]).toBe(0);
    // 30 % of 120 is 36; a fair draw stays well inside this band.
    expect(stats.failed).toBeGreaterThan(18);
    expect(stats.failed).toBeLessThan(54);

    // The request log says the same, request by request.
    const logged = upstream.requests.map((request) => request.outcome);
    expect(logged).toHaveLength(requestCount);
    expect(logged.filter((outcome) => outcome !== 'ok')).toHaveLength(stats.failed);
  });

  it('repeats the same failures for the same seed', async () => {
    const run = async (): Promise<Array<FailureMode | 'ok' | 'rejected'>> => {
      const replay = await startMockUpstream({
        failMix: '500:1,429:1,503:1',
        failRate: 0.5,
        random: seededRandom(42),
        recordRequests: 20,
      });
      try {
        for (let index = 0; index < 20; index += 1) {
          const response = await fetch(`${replay.url}/models`);
          await response.body?.cancel();
        }
        return replay.requests.map((request) => request.outcome);
      } finally {
        await replay.close();
      }
    };
    const first = await run();
    expect(first).toEqual(await run());
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('changes its mix and rate at run time', async () => {
    upstream.setOptions({ failMix: { '429': 1 }, failRate: 1 });
    try {
      expect(await sendStreamed(chatUrl)).toBe('429');
      expect(upstream.stats().failures['429']).toBe(1);
      upstream.setOptions({ failRate: 0 });
      expect(await sendStreamed(chatUrl)).toBe('ok');
    } finally {
      upstream.setOptions({ failMix: chaosMix, failRate: 0.3 });
    }
  });

  it('takes a mix per request from x-mock-fail-mix, its rate from x-mock-fail-rate, and answers 400 to a bad one', async () => {
    expect(await sendStreamed(chatUrl, { 'x-mock-fail-mix': '500:1' })).toBe('500');
    expect(await sendStreamed(chatUrl, { 'x-mock-fail-mix': '500:1', 'x-mock-fail-rate': '0' })).toBe('ok');
    // x-mock-fail names one mode and wins over a mix.
    expect(await sendStreamed(chatUrl, { 'x-mock-fail-mix': '500:1', 'x-mock-fail': '429' })).toBe('429');

    const bad = await postJson(chatUrl, chatRequest(), { 'x-mock-fail-mix': '500:1,explode:1' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      'x-mock-fail-mix: unknown failure mode "explode"',
    );
    expect(upstream.stats()).toMatchObject({ requests: 4, rejected: 1, ok: 1, failed: 2 });
    expect(upstream.requests.at(-1)?.outcome).toBe('rejected');
  });

  it('counts from zero again after resetStats', async () => {
    await sendStreamed(chatUrl, { 'x-mock-fail': 'none' });
    expect(upstream.stats().requests).toBe(1);
    upstream.resetStats();
    expect(upstream.stats()).toMatchObject({ requests: 0, ok: 0, rejected: 0, failed: 0 });
  });
});

describe('429 rate-limit headers', () => {
  let upstream: MockUpstreamHandle;
  beforeAll(async () => {
    upstream = await startMockUpstream({ rateLimitHeaders: true, retryAfterSeconds: 3 });
  });
  afterAll(() => upstream.close());

  it("adds OpenAI's x-ratelimit headers beside Retry-After", async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest(), { 'x-mock-fail': '429' });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(response.headers.get('x-ratelimit-reset-requests')).toBe('3s');
    await response.body?.cancel();
  });

  it("adds Anthropic's own on /v1/messages, the reset as a time", async () => {
    const before = Date.now();
    const response = await postJson(`${upstream.url}/messages`, anthropicRequest, { 'x-mock-fail': '429' });
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    const reset = Date.parse(response.headers.get('anthropic-ratelimit-requests-reset') ?? '');
    expect(reset).toBeGreaterThanOrEqual(before + 3000 - 1000);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBeNull();
    await response.body?.cancel();
  });

  it('sends none of them unless asked', async () => {
    const plain = await startMockUpstream();
    try {
      const response = await postJson(`${plain.url}/chat/completions`, chatRequest(), { 'x-mock-fail': '429' });
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBeNull();
      await response.body?.cancel();
    } finally {
      await plain.close();
    }
  });
});
