import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { startMockUpstream, type MockUpstreamHandle } from '@aihub/mock-upstream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { parseSseData, streamedChatText } from '../support/server-sent-events.ts';
import { killLeftoverProcesses, startCli, type CliProcess } from './cli-process.ts';

/**
 * SIGTERM on a real `aihub serve`: readiness fails first, the listener closes, a stream already in flight runs to its
 * end, its usage record is written, and the process exits 0.
 */

const bootstrapKey = 'sk-aihub-shutdown-test-key-0000000000000';
const chunks = 10;

let upstream: MockUpstreamHandle;
let dataDir: string;
let server: CliProcess | undefined;

beforeAll(async () => {
  // Slow enough that the stream is certainly still running when the signal lands and the listener closes.
  upstream = await startMockUpstream({ chunks, chunkDelayMs: 150 });
});
afterAll(async () => {
  killLeftoverProcesses();
  await upstream.close();
});
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-shutdown-'));
  const configFile = path.join(dataDir, 'aihub.yaml');
  writeFileSync(
    configFile,
    stringifyYaml({
      providers: [{ id: 'mock', type: 'openai-compatible', base_url: upstream.url }],
      models: [{ name: 'gpt-test', deployments: [{ provider: 'mock', model: 'mock-gpt' }] }],
    }),
  );
});
afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(settings: Record<string, string>): Promise<{ origin: string; port: number }> {
  server = startCli(['serve', '--port', '0'], {
    AIHUB_DATA_DIR: dataDir,
    AIHUB_CONFIG: path.join(dataDir, 'aihub.yaml'),
    AIHUB_BOOTSTRAP_KEY: bootstrapKey,
    AIHUB_LOG_LEVEL: 'warn',
    AIHUB_PURGE_INTERVAL_MS: '0',
    ...settings,
  });
  const [, origin, port] = await server.waitForOutput(/AI Hub listening on (http:\/\/127\.0\.0\.1:(\d+))\/v1/);
  await server.waitForOutput(/^Try it:/m);
  return { origin: origin!, port: Number(port) };
}

/** Whether a new TCP connection to the port is refused (true) or accepted (false). */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Polls `condition` until it holds; a real process is on the other side, so there is no clock to inject. */
async function eventually(condition: () => Promise<boolean>, what: string, attempts = 500): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await condition()) return;
    await delay(10);
  }
  throw new Error(`never happened: ${what}`);
}

describe('graceful shutdown of aihub serve', () => {
  it('finishes a stream in flight after SIGTERM, refuses new connections, records usage and exits 0', async () => {
    const { origin, port } = await startServer({ AIHUB_SHUTDOWN_TIMEOUT_MS: '30000' });
    const response = await fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrapKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let body = (await reader.read()).value ?? '';
    let streamEnded = false;
    const rest = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        body += value;
      }
      streamEnded = true;
    })();

    const exitCode = server!.exited();
    server!.child.kill('SIGTERM');
    await eventually(() => connectionRefused(port), 'new connections refused');
    expect(streamEnded).toBe(false);

    await rest;
    const events = parseSseData(body);
    expect(events.at(-1)).toBe('[DONE]');
    const text = streamedChatText(events);
    expect(text).toBe(Array.from({ length: chunks }, (_, index) => `tok${index} `).join(''));
    expect(await exitCode).toBe(0);

    const database = new DatabaseSync(path.join(dataDir, 'aihub.db'), { readOnly: true });
    try {
      const records = database.prepare('select request_id, outcome, streamed from usage_records').all();
      expect(records).toEqual([{ request_id: requestId, outcome: 'success', streamed: 1 }]);
    } finally {
      database.close();
    }
  });

  it('cuts a stream that outlives the shutdown deadline, records it, and still exits 0', async () => {
    const { origin } = await startServer({ AIHUB_SHUTDOWN_TIMEOUT_MS: '300' });
    const response = await fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrapKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const requestId = response.headers.get('x-request-id');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await reader.read();

    const exitCode = server!.exited();
    server!.child.kill('SIGTERM');
    let body = '';
    const ended = await (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return 'ended';
          body += value;
        }
      } catch {
        return 'cut';
      }
    })();
    expect(ended).toBe('cut');
    expect(body).not.toContain('[DONE]');
    expect(await exitCode).toBe(0);

    const database = new DatabaseSync(path.join(dataDir, 'aihub.db'), { readOnly: true });
    try {
      const records = database.prepare('select request_id, outcome from usage_records').all();
      expect(records).toEqual([{ request_id: requestId, outcome: 'client_disconnected' }]);
    } finally {
      database.close();
    }
  });

  it('fails readiness first and keeps serving through the drain delay, then exits 0', async () => {
    const { origin } = await startServer({ AIHUB_SHUTDOWN_DRAIN_DELAY_MS: '1500' });
    expect((await fetch(`${origin}/health/ready`)).status).toBe(200);

    const exitCode = server!.exited();
    server!.child.kill('SIGTERM');
    await eventually(async () => (await fetch(`${origin}/health/ready`)).status === 503, 'readiness answers 503');
    // Still accepting during the delay: liveness and real traffic keep working while the load balancer drains.
    expect((await fetch(`${origin}/health/live`)).status).toBe(200);
    const models = await fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${bootstrapKey}` } });
    expect(models.status).toBe(200);
    expect(await exitCode).toBe(0);
  });
});
