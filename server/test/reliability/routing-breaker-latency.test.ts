import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { median, sendChat, type ChatOutcome } from '../support/chat-load.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const samples = 300;
const warmUp = 50;
const downDeployment = 'down/mock-gpt';
const steadyDeployment = 'steady/mock-gpt';

/** A loopback port nothing listens on: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * `beside-down` has a healthy deployment and one whose upstream refuses connections; `steady-only` has the healthy one
 * alone, so the two can be compared in the same run. The breaker opens after five failures in a row and stays open
 * for the whole test.
 */
function breakerConfig(downPort: number) {
  return (upstreamUrl: string): ConfigFile => ({
    providers: [
      { id: 'steady', type: 'openai-compatible', base_url: upstreamUrl },
      { id: 'down', type: 'openai-compatible', base_url: `http://127.0.0.1:${downPort}/v1` },
    ],
    models: [
      {
        name: 'beside-down',
        deployments: [
          { provider: 'steady', model: 'mock-gpt' },
          { provider: 'down', model: 'mock-gpt' },
        ],
      },
      { name: 'steady-only', deployments: [{ provider: 'steady', model: 'mock-gpt' }] },
    ],
    routing: { breaker: { consecutive_failures: 5, open_ms: 3_600_000 } },
  });
}

describe('a deployment that is down, once its breaker is open', () => {
  let testApp: TestApp;
  let origin: string;
  let admin: SignedInUser;

  beforeAll(async () => {
    testApp = await startTestApp({ configFile: breakerConfig(await closedPort()) });
    // Fastify times a reply (reply.elapsedTime, which x-aihub-overhead-ms is computed from) only when a logger or an
    // onResponse hook is set; the test app runs without a logger, so this hook makes the header what `serve` sends.
    testApp.instance.app.addHook('onResponse', async () => {});
    origin = await listenOnLoopback(testApp.instance.app);
    admin = await createSignedInUser(testApp, { platformRole: 'admin' });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const chat = (model: string): Promise<ChatOutcome> => sendChat({ origin, key: testApp.key, model, stream: false });

  async function breakerState(deploymentId: string): Promise<string | undefined> {
    const response = await testApp.instance.app.inject({
      method: 'GET',
      url: '/api/v1/routing/deployments',
      headers: { authorization: admin.headers.authorization ?? '' },
    });
    expect(response.statusCode, response.body).toBe(200);
    const deployments = response.json<{ data: Array<{ id: string; credentials: Array<{ state: string }> }> }>().data;
    return deployments.find((deployment) => deployment.id === deploymentId)?.credentials[0]?.state;
  }

  it('adds no latency over the healthy deployment alone (medians within 1 ms)', async () => {
    // Until the breaker opens, requests that try the dead deployment first are retried on the healthy one.
    const beforeOpen: ChatOutcome[] = [];
    while ((await breakerState(downDeployment)) !== 'open') {
      expect(beforeOpen.length, 'the breaker of the dead deployment never opened').toBeLessThan(200);
      beforeOpen.push(await chat('beside-down'));
    }
    expect(beforeOpen.every((outcome) => outcome.ok && outcome.deployment === steadyDeployment)).toBe(true);
    expect(beforeOpen.some((outcome) => outcome.attempts === 2)).toBe(true);
    expect(await breakerState(steadyDeployment)).toBe('closed');

    for (let index = 0; index < warmUp; index += 1) {
      await chat('beside-down');
      await chat('steady-only');
    }
    // Interleaved, so both sides see the same machine load, garbage collections and JIT state.
    const besideDown: ChatOutcome[] = [];
    const steadyOnly: ChatOutcome[] = [];
    for (let index = 0; index < samples; index += 1) {
      besideDown.push(await chat('beside-down'));
      steadyOnly.push(await chat('steady-only'));
    }

    for (const outcome of [...besideDown, ...steadyOnly]) {
      expect(outcome.ok, outcome.problem).toBe(true);
      expect(outcome.attempts).toBe(1);
      expect(outcome.deployment).toBe(steadyDeployment);
    }
    expect(await breakerState(downDeployment)).toBe('open');

    const overhead = {
      besideDown: median(besideDown.map((outcome) => outcome.overheadMs)),
      steadyOnly: median(steadyOnly.map((outcome) => outcome.overheadMs)),
    };
    const client = {
      besideDown: median(besideDown.map((outcome) => outcome.clientMs)),
      steadyOnly: median(steadyOnly.map((outcome) => outcome.clientMs)),
      beforeOpen: median(beforeOpen.map((outcome) => outcome.clientMs)),
    };
    console.info(
      `breaker latency: opened after ${beforeOpen.length} requests; medians over ${samples}: ` +
        `overhead ${JSON.stringify(overhead)} ms, client time ${JSON.stringify(client)} ms`,
    );
    // The header is measured, not a constant that would make the comparison hollow.
    expect(besideDown.some((outcome) => outcome.overheadMs > 0)).toBe(true);
    expect(steadyOnly.some((outcome) => outcome.overheadMs > 0)).toBe(true);
    expect(Math.abs(overhead.besideDown - overhead.steadyOnly)).toBeLessThanOrEqual(1);
    // The mock answers at once on both sides, so the whole client time compares too (upstream time included).
    expect(Math.abs(client.besideDown - client.steadyOnly)).toBeLessThanOrEqual(1);
  }, 60_000);
});
