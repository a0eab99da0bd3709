import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import { request } from 'undici';
import type { Config } from '../config/config.ts';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { openDatabase } from '../db/database.ts';
import { listPendingMigrations } from '../db/migration-status.ts';
import { sqliteFileName } from '../db/sqlite-maintenance.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface DoctorOptions {
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Per network check (database, Redis, each provider). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

const mebibyte = 1024 * 1024;
/** Below this the data dir fails the check (the journal and SQLite need room to write); below 1 GiB it warns. */
const minimumFreeBytes = 100 * mebibyte;
const comfortableFreeBytes = 1024 * mebibyte;
/** A clock this far off makes access tokens and key expiry wrong; warn at a tenth of it. */
const clockSkewFailMs = 5 * 60_000;
/** No correct clock reads earlier than this (the product did not exist). */
const earliestPlausibleTime = Date.parse('2025-01-01T00:00:00Z');

/**
 * `aihub doctor`: checks what a deployment needs, prints a checklist and returns 1 when any check fails. It reads
 * and never writes (except a probe file in the data dir), and never sends a provider key anywhere.
 */
export async function runDoctor(output: (line: string) => void, options: DoctorOptions = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const results: CheckResult[] = [];
  const report = (result: CheckResult): void => {
    results.push(result);
    const label = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }[result.status];
    output(`  ${label}  ${result.name.padEnd(14)} ${result.detail}`);
  };

  output('aihub doctor');
  const config = readConfig(options.environment, report);
  if (config) {
    report(checkDataDir(config.dataDir));
    report(await checkDatabase(config));
    if (config.operations.redisUrl) report(await checkRedis(config.operations.redisUrl, timeoutMs));
    const serverDates: number[] = [];
    for (const result of await checkProviders(config, timeoutMs, serverDates)) report(result);
    report(checkClock(now(), serverDates));
  }

  const failed = results.filter((result) => result.status === 'fail').length;
  const warned = results.filter((result) => result.status === 'warn').length;
  output(
    failed > 0
      ? `${failed} check${failed === 1 ? '' : 's'} failed.`
      : `All checks passed${warned > 0 ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}.`,
  );
  return failed > 0 ? 1 : 0;
}

function readConfig(
  environment: DoctorOptions['environment'],
  report: (result: CheckResult) => void,
): Config | undefined {
  const load = (secretKey?: Buffer): Config =>
    loadConfig({
      ...(environment ? { environment } : {}),
      generateSecretKey: false,
      ...(secretKey ? { overrides: { secretKey } } : {}),
    });
  try {
    let config: Config;
    try {
      config = load();
    } catch (error) {
      // A fresh install has no key yet; `serve` generates one. Everything else can still be checked.
      const missingKey =
        error instanceof ConfigError && error.field === 'AIHUB_SECRET_KEY' && error.message.includes('does not exist');
      if (!missingKey) throw error;
      config = load(randomBytes(32));
      report({ name: 'secret key', status: 'warn', detail: 'none yet: the first `aihub serve` creates secret.key' });
    }
    const providers = config.providers.length;
    report({
      name: 'config',
      status: 'ok',
      detail:
        `${config.configFile ?? 'no config file'}: ${providers} provider${providers === 1 ? '' : 's'}, ` +
        `${config.models.length} model${config.models.length === 1 ? '' : 's'}`,
    });
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report({ name: 'config', status: 'fail', detail: error.message });
    return undefined;
  }
}

function checkDataDir(dataDir: string): CheckResult {
  const name = 'data dir';
  try {
    if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    accessSync(dataDir, constants.R_OK | constants.W_OK);
    const probe = path.join(dataDir, `.doctor-probe-${process.pid}`);
    writeFileSync(probe, 'probe');
    rmSync(probe);
  } catch (error) {
    return { name, status: 'fail', detail: `${dataDir} is not writable: ${(error as Error).message}` };
  }
  const stats = statfsSync(dataDir);
  const freeBytes = stats.bavail * stats.bsize;
  const free = `${Math.floor(freeBytes / mebibyte)} MiB free`;
  if (freeBytes < minimumFreeBytes) return { name, status: 'fail', detail: `${dataDir}: only ${free}` };
  if (freeBytes < comfortableFreeBytes) return { name, status: 'warn', detail: `${dataDir}: ${free}` };
  return { name, status: 'ok', detail: `${dataDir} writable, ${free}` };
}

async function checkDatabase(config: Config): Promise<CheckResult> {
  const name = 'database';
  const where = config.databaseUrl ? redactUrl(config.databaseUrl) : path.join(config.dataDir, sqliteFileName);
  if (!config.databaseUrl && !existsSync(path.join(config.dataDir, sqliteFileName))) {
    return {
      name,
      status: 'warn',
      detail: `${where} does not exist yet: \`aihub serve\` or \`aihub migrate\` creates it`,
    };
  }
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    const pending = await listPendingMigrations(database.db);
    if (pending.length > 0) {
      return {
        name,
        status: 'fail',
        detail: `${where}: ${pending.length} migration${pending.length === 1 ? '' : 's'} not applied (${pending.join(', ')}): run \`aihub migrate\``,
      };
    }
    return { name, status: 'ok', detail: `${where} (${database.engine}) reachable, migrations current` };
  } catch (error) {
    return { name, status: 'fail', detail: `${where} not reachable: ${(error as Error).message}` };
  } finally {
    await database.close();
  }
}

/** Plain RESP over TCP (or TLS for rediss://): AUTH when the URL has a password, then PING expecting PONG. */
async function checkRedis(redisUrl: string, timeoutMs: number): Promise<CheckResult> {
  const name = 'redis';
  const url = new URL(redisUrl);
  const where = redactUrl(redisUrl);
  const commands: string[][] = [];
  if (url.password) {
    const password = decodeURIComponent(url.password);
    commands.push(url.username ? ['AUTH', decodeURIComponent(url.username), password] : ['AUTH', password]);
  }
  commands.push(['PING']);
  try {
    const replies = await sendRedisCommands(url, commands, timeoutMs);
    const last = replies.at(-1) ?? '';
    const refused = replies.find((reply) => reply.startsWith('-'));
    if (refused) return { name, status: 'fail', detail: `${where} answered ${refused.slice(1)}` };
    if (last !== '+PONG') return { name, status: 'fail', detail: `${where} answered "${last}" to PING` };
    return { name, status: 'ok', detail: `${where} answers PING` };
  } catch (error) {
    return { name, status: 'fail', detail: `${where} not reachable: ${(error as Error).message}` };
  }
}

function sendRedisCommands(url: URL, commands: readonly string[][], timeoutMs: number): Promise<string[]> {
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(url.port || 6379);
  return new Promise<string[]>((resolve, reject) => {
    const socket: Socket =
      url.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    const replies: string[] = [];
    let buffered = '';
    const finish = (error?: Error): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('error', (error) => finish(error));
    socket.once(url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
      socket.write(commands.map(encodeRedisCommand).join(''));
    });
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffered += text;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) !== -1) {
        replies.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
      }
      if (replies.length >= commands.length) finish();
    });
  });
}

function encodeRedisCommand(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
}

/**
 * HTTP reachability of each provider's base URL: any HTTP answer (401 included) proves the network path and TLS;
 * no credential is sent, so a misconfigured URL cannot leak a key.
 */
async function checkProviders(config: Config, timeoutMs: number, serverDates: number[]): Promise<CheckResult[]> {
  if (config.providers.length === 0) {
    return [
      {
        name: 'providers',
        status: config.operations.demoProvider ? 'warn' : 'fail',
        detail: config.operations.demoProvider
          ? 'none configured: `serve` offers the built-in demo provider (model "demo") only'
          : 'none configured and the demo provider is off: no model can answer',
      },
    ];
  }
  return Promise.all(
    config.providers.map(async (provider): Promise<CheckResult> => {
      const name = `provider ${provider.id}`;
      const where = redactUrl(provider.baseUrl);
      try {
        const response = await request(provider.baseUrl, {
          method: 'GET',
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body.dump();
        const date = Date.parse(String(response.headers.date ?? ''));
        if (Number.isFinite(date)) serverDates.push(date);
        return { name, status: 'ok', detail: `${where} reachable (HTTP ${response.statusCode})` };
      } catch (error) {
        return { name, status: 'fail', detail: `${where} not reachable: ${(error as Error).message}` };
      }
    }),
  );
}

function checkClock(now: number, serverDates: readonly number[]): CheckResult {
  const name = 'clock';
  if (now < earliestPlausibleTime) {
    return { name, status: 'fail', detail: `reads ${new Date(now).toISOString()}, which cannot be right` };
  }
  if (serverDates.length === 0) {
    return { name, status: 'ok', detail: `${new Date(now).toISOString()} (no server to compare with)` };
  }
  // HTTP dates have one-second resolution; the largest gap to any server is what matters.
  const skew = Math.max(...serverDates.map((date) => Math.abs(date - now)));
  const seconds = Math.round(skew / 1000);
  if (skew > clockSkewFailMs) return { name, status: 'fail', detail: `${seconds} s away from the providers' clocks` };
  if (skew > clockSkewFailMs / 10)
    return { name, status: 'warn', detail: `${seconds} s away from the providers' clocks` };
  return { name, status: 'ok', detail: `within ${Math.max(seconds, 1)} s of the providers' clocks` };
}

/** Keeps scheme, host, port and path; drops user, password and query (which may carry a key). */
function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
