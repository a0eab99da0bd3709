import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { migrateToLatest, openDatabase } from '../db/database.ts';
import { KeyRepository, KeyService } from '../modules/keys/index.ts';
import { UserRepository } from '../modules/users/index.ts';
import { serve } from './serve.ts';
import { version } from './version.ts';

/** Parses arguments and runs one command; returns the process exit code. */
export async function runCli(argv: readonly string[], output: (line: string) => void = console.log): Promise<number> {
  const program = new Command('aihub')
    .description('AI Hub: one OpenAI-compatible endpoint in front of many model providers')
    .exitOverride()
    .configureOutput({ writeOut: (text) => output(text.trimEnd()), writeErr: (text) => console.error(text.trimEnd()) });

  let exitCode = 0;
  program
    .command('serve')
    .description('run the gateway (default: embedded SQLite under ./data)')
    .option('--host <host>', 'address to listen on (AIHUB_HOST)')
    .option('--port <port>', 'port to listen on (AIHUB_PORT)', parsePort)
    .action(async (options: { host?: string; port?: number }) => {
      exitCode = await serve(
        {
          ...(options.host ? { host: options.host } : {}),
          ...(options.port !== undefined ? { port: options.port } : {}),
        },
        output,
      );
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      await withKeys(async (_keys, results) =>
        output(`migrations applied: ${results.length === 0 ? 'none (up to date)' : results.join(', ')}`),
      );
    });

  program
    .command('version')
    .description('print the version')
    .action(() => output(version));

  const keysCommand = program.command('keys').description('manage API keys');
  keysCommand
    .command('create')
    .description('create a key and print its secret once')
    .requiredOption('--name <name>', 'a name to recognise the key by')
    .option('--models <models>', 'comma-separated model allowlist (default: all models)')
    .option('--expires <when>', 'expiry: an ISO date/time, or a duration such as 30d, 12h')
    .option('--user <email>', 'owner (default: the bootstrap admin)', 'admin@localhost')
    .action(async (options: { name: string; models?: string; expires?: string; user: string }) => {
      await withKeys(async (keys, _migrations, users) => {
        const owner = await users.findByEmail(options.user);
        if (!owner) throw new CliError(`no user ${options.user}; start the server once to create the admin`);
        const allowedModels = options.models
          ?.split(',')
          .map((model) => model.trim())
          .filter(Boolean);
        const { key, secret } = await keys.create({
          name: options.name,
          userId: owner.id,
          allowedModels: allowedModels && allowedModels.length > 0 ? allowedModels : null,
          expiresAt: options.expires ? parseExpiry(options.expires, Date.now()) : null,
        });
        output(`created key ${key.id} (${key.name})`);
        output(`secret (shown once, store it now): ${secret}`);
      });
    });
  keysCommand
    .command('list')
    .description('list keys (secrets are never shown)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withKeys(async (keys) => {
        const list = await keys.list();
        if (options.json) return output(JSON.stringify(list, null, 2));
        for (const key of list) {
          const state = key.revokedAt
            ? 'revoked'
            : key.expiresAt !== null && key.expiresAt <= Date.now()
              ? 'expired'
              : 'active';
          const models = key.allowedModels ? key.allowedModels.join(',') : '*';
          output(
            `${key.id}  ${key.prefix}…  ${state}  ${key.name}  models=${models}${key.expiresAt ? `  expires=${new Date(key.expiresAt).toISOString()}` : ''}`,
          );
        }
      });
    });
  keysCommand
    .command('revoke')
    .description('revoke a key; running servers stop accepting it within a second')
    .argument('<id>', 'key id (from keys list)')
    .action(async (id: string) => {
      await withKeys(async (keys) => {
        if (!(await keys.revoke(id))) throw new CliError(`no active key with id ${id}`);
        output(`revoked key ${id}`);
      });
    });

  try {
    await program.parseAsync([...argv]);
    if (argv.length <= 2) program.outputHelp();
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError || error instanceof CliError) {
      console.error(`aihub: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

class CliError extends Error {}

async function withKeys(
  action: (keys: KeyService, migrations: string[], users: UserRepository) => Promise<void>,
): Promise<void> {
  const config = loadConfig();
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const migrations = await migrateToLatest(database.db);
    const applied = (migrations.results ?? [])
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName);
    await action(new KeyService(new KeyRepository(database.db)), applied, new UserRepository(database.db));
  } finally {
    await database.close();
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port ${value}`);
  return port;
}

/** Accepts "30d", "12h", "15m" or an ISO date; rejects times in the past. */
export function parseExpiry(text: string, now: number): number {
  const duration = /^(\d+)([dhm])$/.exec(text);
  const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
  const at = duration ? now + Number(duration[1]) * unitMs[duration[2] as keyof typeof unitMs] : Date.parse(text);
  if (!Number.isFinite(at)) throw new CliError(`cannot read expiry "${text}": use an ISO date or a duration like 30d`);
  if (at <= now) throw new CliError(`expiry "${text}" is in the past`);
  return at;
}
