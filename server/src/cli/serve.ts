import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../config/config.ts';
import { demoModelName, demoUpstreamModel, withDemoProvider } from '../config/demo-provider.ts';
import { loadConfig } from '../config/load-config.ts';
import { createApp, type AppInstance } from '../http/create-app.ts';
import { OrganizationPurge } from '../modules/tenancy/index.ts';
import { consolePath } from '../http/console-pages.ts';

/** The file `serve` keeps in the data dir while it runs; `aihub restore` refuses to replace a database in use. */
export const serverPidFileName = 'aihub.pid';

/** Starts the service and runs until SIGINT/SIGTERM; a graceful stop flushes every pending usage record. */
export async function serve(
  overrides: Partial<Pick<Config, 'host' | 'port'>>,
  output: (line: string) => void,
): Promise<number> {
  let config = loadConfig({ overrides });

  // Checked before anything is written: a first start that fails here must not create the admin and lose its key.
  const portProblem = await probeListenAddress(config.host, config.port);
  if (portProblem) {
    console.error(`aihub: ${portProblem}`);
    return 1;
  }

  const demo = config.operations.demoProvider ? await startDemoUpstream() : undefined;
  if (demo) config = withDemoProvider(config, demo.url);

  const instance = await createApp(config);
  const { app } = instance;

  // Handlers go in before the ready line: a supervisor may stop the server the moment it reads that line, and a
  // signal that arrives first would kill it with the default action, skipping the final flush.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of signals) process.once(signal, () => resolve(signal));
  });

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await instance.close();
    await demo?.close();
    const problem = describeListenError(error, config.host, config.port);
    if (!problem) throw error;
    console.error(`aihub: ${problem}`);
    return 1;
  }
  const pidFile = path.join(config.dataDir, serverPidFileName);
  if (!config.databaseUrl) writeFileSync(pidFile, `${process.pid}\n`);
  const purge = startPurgeTimer(instance, config.operations.purgeIntervalMs);

  printBanner(instance, config, output);

  const signal = await stopped;
  // Readiness fails first so a load balancer stops routing here; only then does the listener close.
  instance.startDraining();
  app.log.info(
    { signal, drainDelayMs: config.operations.shutdownDrainDelayMs, timeoutMs: config.operations.shutdownTimeoutMs },
    'shutting down',
  );
  if (config.operations.shutdownDrainDelayMs > 0) await delay(config.operations.shutdownDrainDelayMs);
  clearInterval(purge.timer);
  await purge.running();
  await instance.close({ timeoutMs: config.operations.shutdownTimeoutMs });
  await demo?.close();
  if (!config.databaseUrl) rmSync(pidFile, { force: true });
  return 0;
}

function printBanner(instance: AppInstance, config: Config, output: (line: string) => void): void {
  const { app, bootstrap } = instance;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const baseUrl = `${origin}/v1`;
  // A public URL derived from `--port 0` names port 0; the address actually bound is the one that answers.
  const publicUrl = new URL(config.identity.publicUrl).port === '0' ? origin : config.identity.publicUrl;
  const consoleUrl = `${publicUrl}${consolePath}`;

  output(
    `AI Hub listening on ${baseUrl} (${instance.services.database.engine}${config.databaseUrl ? '' : `, data in ${config.dataDir}`})`,
  );
  output(`Console: ${consoleUrl}   API reference: ${publicUrl}/api/docs`);
  const demoOn = config.operations.demoProvider;
  if (demoOn) {
    output('');
    output(
      `Demo provider on: no provider is configured, so the model "${demoModelName}" is served by the built-in mock ` +
        'upstream (mock-upstream/). Its answers are canned ("tok0 tok1 …"), not AI.',
    );
  }
  const chatModel = config.models.find((model) => model.kind === 'chat');
  const key = bootstrap.generatedSecret;
  if (key) {
    output('');
    output('First start: created the admin and an API key. It is shown only this once:');
    output(`  ${key}`);
  } else if (bootstrap.created) {
    output('First start: created the admin with the key from AIHUB_BOOTSTRAP_KEY.');
  } else {
    output('Create a key with: npm run aihub -- keys create --name my-app');
  }
  if (chatModel) {
    const body = JSON.stringify({
      model: chatModel.name,
      stream: true,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    output(
      `Try it:  curl -sN ${baseUrl}/chat/completions -H "Authorization: Bearer ${key ?? '$AIHUB_KEY'}" ` +
        `-H 'content-type: application/json' -d '${body}'`,
    );
  } else {
    output('No models configured yet: set AIHUB_CONFIG to a YAML file with providers and models (see README).');
  }
  if (demoOn) {
    output(
      'Add a real provider: export OPENAI_API_KEY=sk-... and start with AIHUB_CONFIG=examples/aihub.yaml ' +
        '(the demo turns off once a provider is configured; AIHUB_DEMO_PROVIDER=false turns it off now).',
    );
  }
  if (bootstrap.created) {
    output('To sign in to the console as admin@localhost, set a password first:');
    output('  npm run aihub -- users set-password --email admin@localhost   (reads it from stdin)');
  }
  output('');
}

interface DemoUpstream {
  readonly url: string;
  close(): Promise<void>;
}

/** The mock upstream, loaded only when the demo is on so a configured installation never imports it. */
async function startDemoUpstream(): Promise<DemoUpstream> {
  const { startMockUpstream } = await import('@aihub/mock-upstream');
  // Small delays between chunks so a person watching the curl sees the answer stream in.
  return startMockUpstream({ host: '127.0.0.1', port: 0, models: [demoUpstreamModel], chunks: 12, chunkDelayMs: 40 });
}

/** Runs the purge of expired deleted organizations now and then every `intervalMs` (0: never); errors are logged. */
function startPurgeTimer(
  instance: AppInstance,
  intervalMs: number,
): { timer: NodeJS.Timeout | undefined; running(): Promise<void> } {
  let current: Promise<void> = Promise.resolve();
  if (intervalMs === 0) return { timer: undefined, running: () => current };
  const purge = new OrganizationPurge(instance.services.database.db);
  const runOnce = (): void => {
    current = purge.purgeExpired(Date.now()).then(
      (purged) => {
        if (purged.length > 0) {
          instance.app.log.info({ organizations: purged.map((entry) => entry.id) }, 'purged deleted organizations');
        }
      },
      (error: unknown) => instance.app.log.error({ err: error }, 'purging deleted organizations failed; will retry'),
    );
  };
  runOnce();
  const timer = setInterval(runOnce, intervalMs);
  timer.unref();
  return { timer, running: () => current };
}

/** Binds the address for a moment to learn whether it is free; returns a one-line problem or undefined. */
async function probeListenAddress(host: string, port: number): Promise<string | undefined> {
  if (port === 0) return undefined;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (error) {
    return describeListenError(error, host, port) ?? `cannot listen on ${host}:${port}: ${String(error)}`;
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return undefined;
}

function describeListenError(error: unknown, host: string, port: number): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is already in use (another AI Hub?); stop it or choose another with --port or AIHUB_PORT`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another with --port or AIHUB_PORT`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: this machine has no such address; check --host or AIHUB_HOST`;
    case undefined:
    default:
      return undefined;
  }
}
