import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockUpstream, type MockUpstreamHandle } from '@aihub/mock-upstream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { openDatabase, type DatabaseEngine, type DatabaseHandle } from '../../src/db/database.ts';
import { runPostgresAdmin, testPostgresUrl } from '../support/test-database.ts';

/**
 * The metering promise under the harshest failure: a server killed with SIGKILL in the middle of load, before any
 * usage batch reached the database, must still end up with exactly one usage record for every response a client
 * received in full. The journal is the only thing that can save those records, and replay must not double them.
 */

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const nodeBinary = path.join(repositoryRoot, 'node_modules/.bin/node');
const bootstrapKey = 'sk-aihub-crash-test-bootstrap-key-000000';
const concurrentClients = 32;
const loadDurationMs = 1500;
const startTimeoutMs = 15_000;

interface ServerProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Everything the server printed so far, for failure messages. */
  output(): string;
}

interface LoadResult {
  /** Requests started, whatever became of them. */
  readonly sent: number;
  /** Requests whose response arrived complete: the ones that must have a usage record. */
  readonly delivered: ReadonlyArray<{ requestId: string; marker: string; streamed: boolean }>;
}

interface StoredRecord {
  id: string;
  request_id: string;
  status: number;
  outcome: string;
  streamed: number;
}

const children = new Set<ChildProcess>();

afterAll(() => {
  // A failed assertion must not leave a server running after the suite.
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** The environment a server child gets: this process's, minus every setting the test decides itself. */
function childEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    ([name]) => !name.startsWith('AIHUB_') && name !== 'DATABASE_URL' && name !== 'NODE_OPTIONS',
  );
  return { ...Object.fromEntries(inherited), ...settings };
}

async function startServer(settings: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(nodeBinary, ['server/bin/aihub.ts', 'serve', '--port', '0'], {
    cwd: repositoryRoot,
    env: childEnvironment(settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => (output += text));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in ${startTimeoutMs} ms:\n${output}`)),
      startTimeoutMs,
    );
    child.stdout?.on('data', (text: string) => {
      output += text;
      const listening = /AI Hub listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(output);
      if (listening?.[1]) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  return { child, baseUrl, output: () => output };
}

async function stopServer(server: ServerProcess, signal: NodeJS.Signals): Promise<number | null> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill(signal);
  const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = await exited;
  clearTimeout(timeout);
  return code;
}

/** Sends one chat completion and says whether its response arrived complete. */
async function sendRequest(
  baseUrl: string,
  marker: string,
  streamed: boolean,
): Promise<{ requestId: string } | undefined> {
  const response = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bootstrapKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-test',
      messages: [{ role: 'user', content: `crash test marker ${marker}` }],
      stream: streamed,
    }),
    signal: AbortSignal.timeout(5000),
  });
  const requestId = response.headers.get('x-request-id');
  if (response.status !== 200 || requestId === null) {
    await response.body?.cancel();
    return undefined;
  }
  if (!streamed) {
    const body = (await response.json()) as { choices?: Array<{ message?: { content?: unknown } }> };
    return typeof body.choices?.[0]?.message?.content === 'string' ? { requestId } : undefined;
  }
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as ReadableStream<Uint8Array>)
      text += decoder.decode(chunk, { stream: true });
  } catch {
    // The connection broke; the stream counts as delivered only if its end had already arrived.
  }
  return text.includes('data: [DONE]') ? { requestId } : undefined;
}

/** Runs concurrent clients until `shouldStop` says so; each request carries a unique marker. */
async function driveLoad(baseUrl: string, shouldStop: () => boolean): Promise<LoadResult> {
  const delivered: Array<{ requestId: string; marker: string; streamed: boolean }> = [];
  let sent = 0;
  const client = async (clientIndex: number): Promise<void> => {
    for (let iteration = 0; !shouldStop(); iteration += 1) {
      const marker = `c${clientIndex}-r${iteration}`;
      // Alternate per client and per iteration so streams and plain responses are in flight at every moment.
      const streamed = (clientIndex + iteration) % 2 === 0;
      sent += 1;
      try {
        const result = await sendRequest(baseUrl, marker, streamed);
        if (result) delivered.push({ requestId: result.requestId, marker, streamed });
      } catch {
        // Refused, reset or cut short by the kill: not delivered, so nothing is owed.
      }
    }
  };
  await Promise.all(Array.from({ length: concurrentClients }, (_, index) => client(index)));
  return { sent, delivered };
}

interface EngineSetup {
  readonly databaseUrl: string | undefined;
  readonly postgresSchema: string | undefined;
  cleanUp(): Promise<void>;
}

/** SQLite needs nothing; PostgreSQL gets a schema of its own, selected through the URL the server reads. */
async function prepareEngine(engine: DatabaseEngine): Promise<EngineSetup> {
  if (engine === 'sqlite') return { databaseUrl: undefined, postgresSchema: undefined, cleanUp: async () => {} };
  const schema = `crash_${process.pid}_${Date.now().toString(36)}`;
  await runPostgresAdmin(`create schema ${schema}`);
  const url = new URL(testPostgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    databaseUrl: url.toString(),
    postgresSchema: schema,
    cleanUp: async () => {
      await runPostgresAdmin(`drop schema if exists ${schema} cascade`);
    },
  };
}

/** The environment of a server on `dataDir`, its config file written in `workDir`, on the engine of `setup`. */
function serverSettings(
  workDir: string,
  dataDir: string,
  upstream: MockUpstreamHandle,
  setup: EngineSetup,
): Record<string, string> {
  return {
    AIHUB_CONFIG: writeConfigFile(workDir, upstream),
    AIHUB_DATA_DIR: dataDir,
    AIHUB_BOOTSTRAP_KEY: bootstrapKey,
    AIHUB_LOG_LEVEL: 'warn',
    AIHUB_HOST: '127.0.0.1',
    ...(setup.databaseUrl ? { DATABASE_URL: setup.databaseUrl } : {}),
  };
}

function openStore(dataDir: string, setup: EngineSetup): DatabaseHandle {
  return openDatabase({
    databaseUrl: setup.databaseUrl === undefined ? undefined : testPostgresUrl,
    dataDir,
    ...(setup.postgresSchema ? { postgresSchema: setup.postgresSchema } : {}),
    poolSize: 2,
  });
}

async function readRecords(dataDir: string, setup: EngineSetup): Promise<StoredRecord[]> {
  const store = openStore(dataDir, setup);
  try {
    return await store.db
      .selectFrom('usage_records')
      .select(['id', 'request_id', 'status', 'outcome', 'streamed'])
      .execute();
  } finally {
    await store.close();
  }
}

async function waitForRecordCount(dataDir: string, setup: EngineSetup, atLeast: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const count = (await readRecords(dataDir, setup)).length;
    if (count >= atLeast || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Usage records still sitting in journal segments on disk. */
function journalLines(dataDir: string): number {
  const directory = path.join(dataDir, 'usage-journal');
  return readdirSync(directory)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => path.join(directory, name))
    .filter((file) => statSync(file).size > 0)
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean)).length;
}

function writeConfigFile(directory: string, upstream: MockUpstreamHandle): string {
  const filePath = path.join(directory, 'aihub.yaml');
  writeFileSync(
    filePath,
    stringifyYaml({
      providers: [{ id: 'mock', type: 'openai-compatible', base_url: upstream.url }],
      models: [
        {
          name: 'gpt-test',
          pricing: { input: '2.50', output: '10.00' },
          deployments: [{ provider: 'mock', model: 'mock-gpt' }],
        },
      ],
    }),
  );
  return filePath;
}

describe.each<DatabaseEngine>(['sqlite', 'postgres'])('SIGKILL during load on %s', (engine) => {
  let upstream: MockUpstreamHandle | undefined;
  let workDir: string | undefined;
  let setup: EngineSetup | undefined;
  const servers: ServerProcess[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await stopServer(server, 'SIGKILL');
    await upstream?.close();
    await setup?.cleanUp();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('keeps exactly one usage record for every response a client received', async () => {
    // A little upstream latency keeps many requests in flight, so the kill lands in the middle of some.
    upstream = await startMockUpstream({ latencyMs: 2, chunkDelayMs: 1, chunks: 6, recordRequests: 100_000 });
    workDir = mkdtempSync(path.join(tmpdir(), `aihub-crash-${engine}-`));
    setup = await prepareEngine(engine);
    const dataDir = path.join(workDir, 'data');
    const baseSettings = serverSettings(workDir, dataDir, upstream, setup);

    // First life: nothing is flushed to the database before the kill (long interval, batches never fill).
    const first = await startServer({ ...baseSettings, AIHUB_METER_FLUSH_MS: '60000', AIHUB_METER_BATCH: '100000' });
    servers.push(first);
    let killed = false;
    const load = driveLoad(first.baseUrl, () => killed);
    await new Promise((resolve) => setTimeout(resolve, loadDurationMs));
    killed = true;
    const exitCode = await stopServer(first, 'SIGKILL');
    const { sent, delivered } = await load;

    expect(exitCode).toBeNull();
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(delivered.length).toBeGreaterThan(20);
    expect(delivered.some((request) => request.streamed)).toBe(true);
    expect(delivered.some((request) => !request.streamed)).toBe(true);
    // The database has none of them yet: whatever is found later came back from the journal.
    expect(await readRecords(dataDir, setup)).toEqual([]);
    const journaled = journalLines(dataDir);
    expect(journaled).toBeGreaterThanOrEqual(delivered.length);

    // Second life on the same data: replay, then flush quickly.
    const second = await startServer({ ...baseSettings, AIHUB_METER_FLUSH_MS: '50' });
    servers.push(second);
    await waitForRecordCount(dataDir, setup, delivered.length);
    const stoppedAt = Date.now();
    const secondExit = await stopServer(second, 'SIGTERM');
    const stopMessage = `signal ${second.child.signalCode} after ${Date.now() - stoppedAt} ms; output:\n${second.output()}`;
    expect(secondExit, stopMessage).toBe(0);

    const records = await readRecords(dataDir, setup);
    const recordsByRequest = new Map<string, StoredRecord[]>();
    for (const record of records) {
      recordsByRequest.set(record.request_id, [...(recordsByRequest.get(record.request_id) ?? []), record]);
    }
    const missing = delivered.filter((request) => !recordsByRequest.has(request.requestId));
    const doubled = [...recordsByRequest.entries()].filter(([, list]) => list.length > 1);
    const upstreamMarkers = new Set(
      upstream.requests
        .map((request) => JSON.stringify(request.body))
        .map((body) => /crash test marker (c\d+-r\d+)/.exec(body)?.[1])
        .filter((marker) => marker !== undefined),
    );

    console.info(
      `[crash ${engine}] sent ${sent}, delivered ${delivered.length}, journaled ${journaled}, ` +
        `reached upstream ${upstreamMarkers.size}, records ${records.length}`,
    );
    expect(missing).toEqual([]);
    expect(doubled).toEqual([]);
    expect(new Set(records.map((record) => record.id)).size).toBe(records.length);
    expect(records.length).toBeGreaterThanOrEqual(delivered.length);
    // A record is written only after the upstream answered, so none can exist for a request that never got there.
    expect(records.length).toBeLessThanOrEqual(upstreamMarkers.size);
    expect(upstreamMarkers.size).toBeLessThanOrEqual(sent);
    for (const request of delivered) {
      expect(recordsByRequest.get(request.requestId)?.[0]).toMatchObject({
        status: 200,
        outcome: 'success',
        streamed: request.streamed ? 1 : 0,
      });
    }
    // The graceful stop wrote everything; the journal holds nothing more.
    expect(journalLines(dataDir)).toBe(0);
  }, 60_000);

  it('records what a stream delivered when the process is killed in the middle of it', async () => {
    // Slow streams: 40 events 100 ms apart, so the kill lands well inside every one of them.
    upstream = await startMockUpstream({ chunks: 40, chunkDelayMs: 100 });
    workDir = mkdtempSync(path.join(tmpdir(), `aihub-crash-stream-${engine}-`));
    setup = await prepareEngine(engine);
    const dataDir = path.join(workDir, 'data');
    const settings = serverSettings(workDir, dataDir, upstream, setup);
    const first = await startServer({ ...settings, AIHUB_METER_FLUSH_MS: '60000', AIHUB_METER_BATCH: '100000' });
    servers.push(first);

    const streams = 4;
    const eventsBeforeKill = 15;
    const started = await Promise.all(
      Array.from({ length: streams }, async (_, index) => {
        const response = await fetch(`${first.baseUrl}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bootstrapKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'gpt-test',
            messages: [{ role: 'user', content: `cut ${index}` }],
            stream: true,
          }),
        });
        expect(response.status).toBe(200);
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const decoder = new TextDecoder();
        let text = '';
        // Read until this many events arrived: more than a second of streaming, so periodic checkpoints were written.
        while ((text.match(/^data: /gm) ?? []).length < eventsBeforeKill) {
          const { value, done } = await reader.read();
          if (done) throw new Error('the stream ended before the kill');
          text += decoder.decode(value, { stream: true });
        }
        return { requestId: response.headers.get('x-request-id')!, reader };
      }),
    );
    await stopServer(first, 'SIGKILL');
    for (const stream of started) await stream.reader.cancel().catch(() => undefined);
    expect(await readRecords(dataDir, setup)).toEqual([]);

    const second = await startServer({ ...settings, AIHUB_METER_FLUSH_MS: '50' });
    servers.push(second);
    await waitForRecordCount(dataDir, setup, streams);
    expect(await stopServer(second, 'SIGTERM')).toBe(0);

    const store = openStore(dataDir, setup);
    try {
      const records = await store.db.selectFrom('usage_records').selectAll().execute();
      expect(records).toHaveLength(streams);
      for (const stream of started) {
        const record = records.find((candidate) => candidate.request_id === stream.requestId);
        expect(record).toMatchObject({
          streamed: 1,
          status: 200,
          outcome: 'interrupted',
          error_code: 'process_exited',
        });
        // Beyond the checkpoint at the first event (so a later one was kept), short of the whole stream.
        expect(record!.completion_tokens).toBeGreaterThan(1);
        expect(record!.completion_tokens).toBeLessThan(40);
        // The prompt is estimated from its text until the upstream reports usage; it is never recorded as free.
        expect(record!.prompt_tokens).toBeGreaterThan(0);
        expect(record!.cost_micros).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
    expect(journalLines(dataDir)).toBe(0);
  }, 60_000);
});
