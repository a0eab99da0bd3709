import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { AppError } from '../errors/app-error.ts';
import { KeyRepository, KeyService, keyScopes } from '../modules/keys/index.ts';
import { UserRepository } from '../modules/users/index.ts';
import { runBackup, runRestore } from './backup.ts';
import { CommandError } from './command-error.ts';
import { runDoctor } from './doctor.ts';
import { withMigratedDatabase } from './migrated-database.ts';
import { runPurge } from './purge.ts';
import { serve } from './serve.ts';
import { runSetAccountDisabled } from './users-disable.ts';
import { runSetPassword } from './users-set-password.ts';
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
    .command('doctor')
    .description('check config, database, Redis, providers, clock and disk; exit 1 when a check fails')
    .action(async () => {
      exitCode = await runDoctor(output);
    });

  program
    .command('backup')
    .description('copy the embedded SQLite database to <file> while it runs (consistent, verified)')
    .argument('<file>', 'where to write the backup (must not exist)')
    .action(async (file: string) => {
      await runBackup(loadConfig(), file, output);
    });

  program
    .command('restore')
    .description('replace the embedded SQLite database with a verified backup (stop the server first)')
    .argument('<file>', 'a file written by aihub backup')
    .option('--force', 'restore even though a server seems to be running on this data dir')
    .action(async (file: string, options: { force?: boolean }) => {
      await runRestore(loadConfig(), file, { force: options.force === true }, output);
    });

  program
    .command('purge')
    .description('delete organizations whose retention period after deletion has ended (serve does it hourly)')
    .action(async () => {
      await runPurge(loadConfig(), output);
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
    .option('--org <id>', "organization (default: the owner's first organization)")
    .option('--team <id>', 'make it a key of this team (in the organization)')
    .option('--scopes <scopes>', `comma-separated scopes: ${keyScopes.join(', ')} (default: chat,embeddings,models)`)
    .option('--ip-allowlist <entries>', 'comma-separated IPs or CIDR ranges the key may be used from (default: any)')
    .option('--rpm <requests>', 'requests per minute (default: no limit)')
    .option('--tpm <tokens>', 'tokens per minute (default: no limit)')
    .option('--concurrency <requests>', 'requests at once (default: no limit)')
    .option('--budget-micros <amount>', 'spending cap in micro-USD (default: none)')
    .option('--budget-period <period>', 'what the budget covers: day, week, month or total', 'total')
    .action(async (options: KeysCreateOptions) => {
      await withKeys(async (keys, _migrations, users) => {
        const owner = await users.findByEmail(options.user);
        if (!owner) throw new CommandError(`no user ${options.user}; start the server once to create the admin`);
        const allowedModels = splitList(options.models);
        const expiresAt = options.expires ? parseExpiry(options.expires, Date.now()) : null;
        const target = await keys.resolveOperatorTarget(owner.id, options.org, options.team);
        const { key, secret } = await keys.create({
          name: options.name,
          userId: owner.id,
          orgId: target.orgId,
          teamId: target.teamId,
          scopes: splitList(options.scopes) ?? null,
          ipAllowlist: splitList(options.ipAllowlist) ?? null,
          allowedModels: allowedModels && allowedModels.length > 0 ? allowedModels : null,
          expiresAt,
          rpmLimit: optionalNumber(options.rpm),
          tpmLimit: optionalNumber(options.tpm),
          concurrencyLimit: optionalNumber(options.concurrency),
          budgetMicros: optionalNumber(options.budgetMicros),
          budgetPeriod: options.budgetPeriod,
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
          const models = key.allowedModels ? key.allowedModels.join(',') : '*';
          const extras = [
            `scopes=${key.scopes.join(',')}`,
            ...(key.teamId ? [`team=${key.teamId}`] : []),
            ...(key.ipAllowlist ? [`ips=${key.ipAllowlist.join(',')}`] : []),
            ...(key.expiresAt ? [`expires=${new Date(key.expiresAt).toISOString()}`] : []),
          ];
          output(`${key.id}  ${key.prefix}…  ${key.status}  ${key.name}  models=${models}  ${extras.join('  ')}`);
        }
      });
    });
  keysCommand
    .command('revoke')
    .description('revoke a key; running servers stop accepting it within a second')
    .argument('<id>', 'key id (from keys list)')
    .action(async (id: string) => {
      await withKeys(async (keys) => {
        if (!(await keys.revoke(id))) throw new CommandError(`no active key with id ${id}`);
        output(`revoked key ${id}`);
      });
    });
  keysCommand
    .command('rotate')
    .description('replace a key with a new secret (printed once); the old key keeps working for a grace period')
    .argument('<id>', 'key id (from keys list)')
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 0s, 30m, 24h, 7d', '24h')
    .action(async (id: string, options: { grace: string }) => {
      await withKeys(async (keys) => {
        const rotated = await keys.rotate(id, parseGraceSeconds(options.grace));
        if (!rotated) throw new CommandError(`no key with id ${id}`);
        output(`rotated key ${id} into ${rotated.key.id} (${rotated.key.name})`);
        output(`secret (shown once, store it now): ${rotated.secret}`);
      });
    });

  const usersCommand = program.command('users').description('manage user accounts');
  usersCommand
    .command('set-password')
    .description("set a user's password (read from stdin, or --password-env); ends their sessions")
    .requiredOption('--email <email>', 'the account, e.g. admin@localhost')
    .option('--password-env <name>', 'read the password from this environment variable instead of stdin')
    .action(async (options: { email: string; passwordEnv?: string }) => {
      exitCode = await runSetPassword(options, output);
    });
  usersCommand
    .command('disable')
    .description('disable an account: no sign-in, sessions ended, keys refused (not revoked)')
    .requiredOption('--email <email>', 'the account')
    .action(async (options: { email: string }) => {
      await runSetAccountDisabled(options, true, output);
    });
  usersCommand
    .command('enable')
    .description('enable a disabled account again; its keys work again')
    .requiredOption('--email <email>', 'the account')
    .action(async (options: { email: string }) => {
      await runSetAccountDisabled(options, false, output);
    });

  try {
    await program.parseAsync([...argv]);
    if (argv.length <= 2) program.outputHelp();
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError || error instanceof CommandError || error instanceof AppError) {
      console.error(`aihub: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

interface KeysCreateOptions {
  name: string;
  models?: string;
  expires?: string;
  user: string;
  org?: string;
  team?: string;
  scopes?: string;
  ipAllowlist?: string;
  rpm?: string;
  tpm?: string;
  concurrency?: string;
  budgetMicros?: string;
  budgetPeriod: string;
}

/** A number option as given (the key settings say what is wrong with it), or null when it was left out. */
function optionalNumber(text: string | undefined): number | null {
  return text === undefined ? null : Number(text);
}

function splitList(text: string | undefined): string[] | undefined {
  return text
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Accepts "0", "90s", "30m", "24h", "7d" (at most 7 days, checked by the key service). */
function parseGraceSeconds(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  if (!match) throw new CommandError(`cannot read grace period "${text}": use a duration like 30m, 24h or 7d`);
  const unitSeconds = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 } as const;
  return Number(match[1]) * unitSeconds[match[2] as keyof typeof unitSeconds];
}

async function withKeys(
  action: (keys: KeyService, migrations: string[], users: UserRepository) => Promise<void>,
): Promise<void> {
  await withMigratedDatabase(loadConfig(), (db, applied) =>
    action(new KeyService(new KeyRepository(db)), applied, new UserRepository(db)),
  );
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CommandError(`invalid port ${value}`);
  return port;
}

/** Accepts "30d", "12h", "15m" or an ISO date; rejects times in the past. */
export function parseExpiry(text: string, now: number): number {
  const duration = /^(\d+)([dhm])$/.exec(text);
  const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
  const at = duration ? now + Number(duration[1]) * unitMs[duration[2] as keyof typeof unitMs] : Date.parse(text);
  if (!Number.isFinite(at))
    throw new CommandError(`cannot read expiry "${text}": use an ISO date or a duration like 30d`);
  if (at <= now) throw new CommandError(`expiry "${text}" is in the past`);
  return at;
}
