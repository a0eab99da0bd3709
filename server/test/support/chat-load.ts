import { parseSseData, streamDeadlineMs } from './server-sent-events.ts';

/** What one chat request over a real socket came to, as a client sees it. */
export interface ChatOutcome {
  readonly status: number;
  /** A 200 with a complete answer: JSON with a choice, or a stream whose last event is `[DONE]`. */
  readonly ok: boolean;
  readonly streamed: boolean;
  readonly requestId: string | undefined;
  /** `x-aihub-attempts`; 0 when the header is missing. */
  readonly attempts: number;
  readonly deployment: string | undefined;
  /** `x-aihub-overhead-ms`; NaN when the header is missing. */
  readonly overheadMs: number;
  /** Time from sending the request to the end of its body, on the client. */
  readonly clientMs: number;
  /** The body of a failed answer or the error thrown, for the assertion message. */
  readonly problem: string | undefined;
}

export interface ChatRequestOptions {
  readonly origin: string;
  readonly key: string;
  readonly model: string;
  readonly stream: boolean;
}

/** One chat completion (streamed or not) over the socket at `origin`; never throws, a failure is an outcome. */
export async function sendChat(options: ChatRequestOptions): Promise<ChatOutcome> {
  const startedAt = performance.now();
  let status = 0;
  let headers: Headers | undefined;
  try {
    const response = await fetch(`${options.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: options.model,
        messages: [{ role: 'user', content: 'hello' }],
        ...(options.stream ? { stream: true } : {}),
      }),
      signal: AbortSignal.timeout(streamDeadlineMs),
    });
    status = response.status;
    headers = response.headers;
    const text = await response.text();
    const complete = options.stream ? parseSseData(text).at(-1) === '[DONE]' : hasChoice(text);
    const ok = status === 200 && complete;
    return outcome(options.stream, status, headers, startedAt, ok ? undefined : text.slice(0, 500));
  } catch (error) {
    return outcome(options.stream, status, headers, startedAt, error instanceof Error ? error.message : String(error));
  }
}

function hasChoice(text: string): boolean {
  try {
    const body = JSON.parse(text) as { choices?: unknown[] };
    return Array.isArray(body.choices) && body.choices.length > 0;
  } catch {
    return false;
  }
}

function outcome(
  streamed: boolean,
  status: number,
  headers: Headers | undefined,
  startedAt: number,
  problem: string | undefined,
): ChatOutcome {
  const attempts = Number(headers?.get('x-aihub-attempts') ?? 0);
  return {
    status,
    ok: problem === undefined,
    streamed,
    requestId: headers?.get('x-request-id') ?? undefined,
    attempts: Number.isFinite(attempts) ? attempts : 0,
    deployment: headers?.get('x-aihub-deployment') ?? undefined,
    overheadMs: Number(headers?.get('x-aihub-overhead-ms') ?? Number.NaN),
    clientMs: performance.now() - startedAt,
    problem,
  };
}

/** Runs `count` tasks, at most `concurrency` at a time, and returns their results in task order. */
export async function runWithConcurrency<Result>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<Result>,
): Promise<Result[]> {
  const results: Result[] = new Array<Result>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('the median of no values');
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** How many outcomes made each number of attempts, e.g. `{ 1: 1800, 2: 200 }`. */
export function attemptsDistribution(outcomes: readonly ChatOutcome[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { attempts } of outcomes) counts[attempts] = (counts[attempts] ?? 0) + 1;
  return counts;
}

/** A seeded generator in [0, 1) (mulberry32), so a run of injected failures can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}
