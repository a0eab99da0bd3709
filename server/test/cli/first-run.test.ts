import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSseData, streamedChatText } from '../support/server-sent-events.ts';
import { killLeftoverProcesses, parseCurl, startCli, type CliProcess } from './cli-process.ts';

/**
 * What a newcomer meets: `aihub serve` on an empty data dir with no provider key. The banner's "Try it" command must
 * return a real streamed completion (from the built-in demo provider), and every address it prints must answer.
 */

let dataDir: string;
let server: CliProcess | undefined;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-first-run-'));
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});
afterAll(killLeftoverProcesses);

async function startFirstRun(settings: Record<string, string> = {}): Promise<string> {
  server = startCli(['serve', '--port', '0'], { AIHUB_DATA_DIR: dataDir, AIHUB_LOG_LEVEL: 'warn', ...settings });
  await server.waitForOutput(/^To sign in to the console/m);
  return server.stdout();
}

function bannerLine(banner: string, prefix: string): string {
  const line = banner.split('\n').find((candidate) => candidate.startsWith(prefix));
  if (!line) throw new Error(`the banner has no "${prefix}" line:\n${banner}`);
  return line.slice(prefix.length).trim();
}

describe('first run with no provider configured', () => {
  it('answers the printed Try-it curl with a streamed completion from the labelled demo provider', async () => {
    const banner = await startFirstRun();
    expect(banner).toMatch(/Demo provider on: no provider is configured/);
    expect(banner).toMatch(/mock-upstream\//);
    expect(bannerLine(banner, 'Add a real provider:')).toMatch(/OPENAI_API_KEY.*AIHUB_CONFIG=examples\/aihub\.yaml/);

    const curl = parseCurl(bannerLine(banner, 'Try it:'));
    const response = await fetch(curl.url, { method: curl.method, headers: curl.headers, body: curl.body });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSseData(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const text = streamedChatText(events);
    expect(text).toBe('tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 ');

    const models = await fetch(curl.url.replace(/\/chat\/completions$/, '/models'), {
      headers: { authorization: curl.headers.authorization! },
    });
    expect(await models.json()).toMatchObject({ data: [{ id: 'demo', owned_by: 'aihub-demo' }] });
  });

  it('prints a console address that serves a page, and an API reference that carries the product name', async () => {
    const banner = await startFirstRun();
    const consoleUrl = /Console: (\S+)/.exec(banner)?.[1];
    const docsUrl = /API reference: (\S+)/.exec(banner)?.[1];
    expect(consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console$/);
    const page = await fetch(consoleUrl!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<form id="reset-request-form"');

    const docs = await fetch(docsUrl!);
    expect(docs.status).toBe(200);
    const html = await docs.text();
    expect(html).toContain('<title>AI Hub API reference</title>');
    expect(html).not.toContain('Swagger UI</title>');
  });

  it('turns the demo off with AIHUB_DEMO_PROVIDER=false and then says how to add a provider', async () => {
    const banner = await startFirstRun({ AIHUB_DEMO_PROVIDER: 'false' });
    expect(banner).not.toMatch(/Demo provider/);
    expect(banner).toMatch(/No models configured yet/);
  });
});

describe('a port already in use', () => {
  let occupant: Server;
  afterEach(async () => {
    await new Promise<void>((resolve) => occupant.close(() => resolve()));
  });

  it('ends with one clear line, exit code 1, and nothing written to the data dir', async () => {
    occupant = createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    const address = occupant.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    server = startCli(['serve', '--port', String(port)], { AIHUB_DATA_DIR: dataDir });
    const exitCode = await server.exited();

    expect(exitCode).toBe(1);
    expect(server.stdout()).toBe('');
    expect(server.stderr().trimEnd().split('\n')).toEqual([
      `aihub: cannot listen on 127.0.0.1:${port}: the port is already in use (another AI Hub?); stop it or choose another with --port or AIHUB_PORT`,
    ]);
    // The admin and its one-time key are created only once the port is known to be free.
    expect(existsSync(path.join(dataDir, 'aihub.db'))).toBe(false);
  });
});
