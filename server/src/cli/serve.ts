import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/load-config.ts';
import { createApp } from '../http/create-app.ts';

/** Starts the service and runs until SIGINT/SIGTERM; a graceful stop flushes every pending usage record. */
export async function serve(
  overrides: Partial<Pick<Config, 'host' | 'port'>>,
  output: (line: string) => void,
): Promise<number> {
  const config = loadConfig({ overrides });
  const instance = await createApp(config);
  const { app, bootstrap } = instance;

  // Handlers go in before the ready line: a supervisor may stop the server the moment it reads that line, and a
  // signal that arrives first would kill it with the default action, skipping the final flush.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const stopped = new Promise<void>((resolve) => {
    for (const signal of signals) {
      process.once(signal, () => {
        app.log.info({ signal }, 'shutting down');
        resolve();
      });
    }
  });

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const baseUrl = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/v1`;

  output(
    `AI Hub listening on ${baseUrl} (${instance.services.database.engine}${config.databaseUrl ? '' : `, data in ${config.dataDir}`})`,
  );
  if (config.models.length === 0) {
    output('No models configured yet: set AIHUB_CONFIG to a YAML file with providers and models (see README).');
  }
  if (bootstrap.generatedSecret) {
    output('');
    output('First start: created the admin and an API key. It is shown only this once:');
    output(`  ${bootstrap.generatedSecret}`);
    output(`Try it:  curl ${baseUrl}/models -H "Authorization: Bearer ${bootstrap.generatedSecret}"`);
    output('');
  } else if (bootstrap.created) {
    output('First start: created the admin with the key from AIHUB_BOOTSTRAP_KEY.');
  } else {
    output('Create a key with: npm run aihub -- keys create --name my-app');
  }
  if (bootstrap.created) {
    output('To sign in to the console as admin@localhost, set a password first:');
    output('  npm run aihub -- users set-password --email admin@localhost   (reads it from stdin)');
  }

  await stopped;
  await instance.close();
  return 0;
}
