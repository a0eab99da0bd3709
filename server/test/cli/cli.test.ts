import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { runCli } from '../../src/cli/index.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { migrationProvider } from '../../src/db/migrations/index.ts';
import { KeyRepository, KeyService, type KeySummary } from '../../src/modules/keys/index.ts';
import { createOrganizationAsOperator } from '../../src/modules/tenancy/index.ts';
import { UserRepository } from '../../src/modules/users/index.ts';
import { isolateCliEnvironment, type CliEnvironment } from '../support/cli-environment.ts';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const serverPackage = JSON.parse(readFileSync(path.join(repositoryRoot, 'server/package.json'), 'utf8')) as {
  version: string;
};
const dayMs = 86_400_000;

let dataDir: string;
let environment: CliEnvironment;
let errorSpy: MockInstance<typeof console.error>;

beforeEach(() => {
  environment = isolateCliEnvironment('aihub-cli-');
  dataDir = environment.dataDir;
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  errorSpy.mockRestore();
  environment.restore();
});

/** Runs one command as `aihub <arguments>` and returns its exit code, printed lines and error lines. */
async function run(...commandArguments: string[]): Promise<{ exitCode: number; lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  errorSpy.mockClear();
  const exitCode = await runCli(['node', 'aihub', ...commandArguments], (line) => lines.push(line));
  const errors = errorSpy.mock.calls.map((call) => call.map(String).join(' '));
  return { exitCode, lines, errors };
}

async function withDatabase<T>(action: (handle: DatabaseHandle) => Promise<T>): Promise<T> {
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  try {
    await migrateToLatest(handle.db);
    return await action(handle);
  } finally {
    await handle.close();
  }
}

/**
 * What the first `serve` does: create the admin that `keys create` gives keys to by default, and the organization
 * they own (where their keys go unless --org names another); returns that organization's id.
 */
async function seedAdmin(): Promise<string> {
  return withDatabase(async (handle) => {
    const users = new UserRepository(handle.db);
    await users.insert({
      id: 'admin-user',
      email: 'admin@localhost',
      name: 'Administrator',
      role: 'admin',
      created_at: Date.now(),
    });
    return createOrganizationAsOperator(handle.db, 'Default organization', 'admin-user');
  });
}

async function createKey(...extraArguments: string[]): Promise<{ id: string; secret: string; lines: string[] }> {
  const result = await run('keys', 'create', '--name', 'ci', ...extraArguments);
  expect(result.errors).toEqual([]);
  expect(result.exitCode).toBe(0);
  const id = /^created key (\S+) \(ci\)$/.exec(result.lines[0] ?? '')?.[1];
  const secret = /^secret \(shown once, store it now\): (sk-aihub-\S+)$/.exec(result.lines[1] ?? '')?.[1];
  if (!id || !secret) throw new Error(`unexpected output: ${result.lines.join('\n')}`);
  return { id, secret, lines: result.lines };
}

async function listKeysAsJson(): Promise<KeySummary[]> {
  const result = await run('keys', 'list', '--json');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.lines.join('\n')) as KeySummary[];
}

describe('aihub CLI in-process', () => {
  it('prints the version of the server package', async () => {
    const result = await run('version');
    expect(result).toEqual({ exitCode: 0, lines: [serverPackage.version], errors: [] });
    expect(serverPackage.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('migrates an empty database, then reports it up to date', async () => {
    const known = Object.keys(await migrationProvider.getMigrations());
    expect(known.slice(0, 3)).toEqual(['0001-initial', '0002-identity-and-tenancy', '0003-sso-identities']);
    expect(await run('migrate')).toEqual({
      exitCode: 0,
      lines: [`migrations applied: ${known.join(', ')}`],
      errors: [],
    });
    expect(await run('migrate')).toEqual({
      exitCode: 0,
      lines: ['migrations applied: none (up to date)'],
      errors: [],
    });
  });

  it('creates a key whose secret, printed once, authenticates with its allowlist and expiry', async () => {
    await seedAdmin();
    const before = Date.now();

    const { id, secret, lines } = await createKey('--models', 'a, b,,a', '--expires', '30d');

    expect(lines).toHaveLength(2);
    const lookup = await withDatabase((handle) => new KeyService(new KeyRepository(handle.db)).lookup(secret));
    expect(lookup.status).toBe('valid');
    if (lookup.status !== 'valid') return;
    expect(lookup.principal.keyId).toBe(id);
    expect(lookup.principal.userId).toBe('admin-user');
    expect(lookup.principal.allowedModels).toEqual(new Set(['a', 'b']));
    expect(lookup.principal.expiresAt).toBeGreaterThanOrEqual(before + 30 * dayMs);
    expect(lookup.principal.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * dayMs);
  });

  it('creates a key for every model that never expires by default', async () => {
    await seedAdmin();
    const { id } = await createKey();
    const [key] = await listKeysAsJson();
    expect(key).toMatchObject({ id, allowedModels: null, expiresAt: null, revokedAt: null });
  });

  it('creates a key with its own rate, concurrency and budget limits', async () => {
    await seedAdmin();
    const { secret } = await createKey(
      ...[
        '--rpm',
        '600',
        '--tpm',
        '20000',
        '--concurrency',
        '4',
        '--budget-micros',
        '5000000',
        '--budget-period',
        'day',
      ],
    );
    const lookup = await withDatabase((handle) => new KeyService(new KeyRepository(handle.db)).lookup(secret));
    expect(lookup.status === 'valid' && lookup.principal.limits).toEqual({
      rpmLimit: 600,
      tpmLimit: 20_000,
      concurrencyLimit: 4,
      budgetMicros: 5_000_000,
      budgetPeriod: 'day',
    });
  });

  it('lists keys without ever printing a secret', async () => {
    await seedAdmin();
    const { id, secret } = await createKey('--models', 'gpt-test');

    const plain = await run('keys', 'list');
    const json = await run('keys', 'list', '--json');

    expect(plain.exitCode).toBe(0);
    expect(plain.lines).toHaveLength(1);
    expect(plain.lines[0]).toMatch(
      new RegExp(`^${id}  sk-aihub-\\S{6}…  active  ci  models=gpt-test  scopes=chat,embeddings,models$`),
    );
    for (const output of [plain.lines.join('\n'), json.lines.join('\n')]) {
      expect(output).toContain(id);
      expect(output).not.toContain(secret);
      expect(output).not.toContain(secret.slice(-20));
    }
  });

  it('revokes a key so it no longer authenticates, and shows it as revoked', async () => {
    await seedAdmin();
    const { id, secret } = await createKey();

    expect(await run('keys', 'revoke', id)).toEqual({ exitCode: 0, lines: [`revoked key ${id}`], errors: [] });

    const lookup = await withDatabase((handle) => new KeyService(new KeyRepository(handle.db)).lookup(secret));
    expect(lookup).toEqual({ status: 'revoked' });
    expect((await run('keys', 'list')).lines[0]).toContain('  revoked  ');
  });

  it('exits 1 when revoking an unknown or already revoked key', async () => {
    await seedAdmin();
    const { id } = await createKey();
    await run('keys', 'revoke', id);

    for (const target of ['no-such-key', id]) {
      const result = await run('keys', 'revoke', target);
      expect(result.exitCode).toBe(1);
      expect(result.lines).toEqual([]);
      expect(result.errors).toEqual([`aihub: no active key with id ${target}`]);
    }
  });

  it("puts a key in the owner's organization by default, or in the team, scopes and addresses given", async () => {
    const orgId = await seedAdmin();
    await withDatabase((handle) =>
      handle.db
        .insertInto('teams')
        .values({ id: 'team-ml', org_id: orgId, name: 'ML', created_at: Date.now(), updated_at: Date.now() })
        .execute(),
    );

    const plain = await createKey();
    const scoped = await createKey(
      '--org',
      orgId,
      '--team',
      'team-ml',
      '--scopes',
      'chat, management:read',
      '--ip-allowlist',
      '10.1.2.3/8,2001:DB8::1',
    );

    const keys = await listKeysAsJson();
    expect(keys.find((key) => key.id === plain.id)).toMatchObject({
      orgId,
      teamId: null,
      scopes: ['chat', 'embeddings', 'models'],
      ipAllowlist: null,
    });
    expect(keys.find((key) => key.id === scoped.id)).toMatchObject({
      orgId,
      teamId: 'team-ml',
      scopes: ['chat', 'management:read'],
      ipAllowlist: ['10.0.0.0/8', '2001:db8::1'],
    });
    const listed = await run('keys', 'list');
    expect(listed.lines.find((line) => line.startsWith(scoped.id))).toContain(
      'scopes=chat,management:read  team=team-ml  ips=10.0.0.0/8,2001:db8::1',
    );
  });

  it.each([
    ['an organization the owner is not in', ['--org', 'org_elsewhere'], 'not a member of organization org_elsewhere'],
    ['a team outside the organization', ['--team', 'team-nowhere'], 'no team team-nowhere'],
    ['an unknown scope', ['--scopes', 'chat,admin'], 'unknown scope "admin"'],
    ['an invalid address', ['--ip-allowlist', '10.0.0.0/33'], '"10.0.0.0/33" is not an IP address or CIDR range'],
    ['a negative rate limit', ['--rpm', '-5'], 'rpm_limit'],
    ['a rate limit that is no number', ['--tpm', 'lots'], 'tpm_limit'],
    ['an unknown budget period', ['--budget-micros', '5', '--budget-period', 'year'], 'budget_period'],
  ])('exits 1 naming the problem for %s and creates no key', async (_description, extra, message) => {
    await seedAdmin();
    const result = await run('keys', 'create', '--name', 'bad', ...extra);
    expect(result.exitCode).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toContain(message);
    expect(await listKeysAsJson()).toEqual([]);
  });

  it('exits 1 when the owner belongs to no organization and none is given', async () => {
    await withDatabase((handle) =>
      new UserRepository(handle.db).insert({
        id: 'loner',
        email: 'loner@example.com',
        name: 'Loner',
        role: 'member',
        created_at: Date.now(),
      }),
    );
    const result = await run('keys', 'create', '--name', 'x', '--user', 'loner@example.com');
    expect(result.exitCode).toBe(1);
    expect(result.errors[0]).toContain('belongs to no organization; pass one with --org');
  });

  it('rotates a key: a new secret printed once, the old one kept only for the grace period', async () => {
    await seedAdmin();
    const old = await createKey('--models', 'gpt-test', '--scopes', 'chat');
    const lookup = (secret: string) =>
      withDatabase((handle) => new KeyService(new KeyRepository(handle.db)).lookup(secret));

    const before = Date.now();
    const result = await run('keys', 'rotate', old.id, '--grace', '1h');

    expect(result.exitCode).toBe(0);
    expect(result.lines).toHaveLength(2);
    const newId = new RegExp(`^rotated key ${old.id} into (\\S+) \\(ci\\)$`).exec(result.lines[0] ?? '')?.[1];
    const secret = /^secret \(shown once, store it now\): (sk-aihub-\S+)$/.exec(result.lines[1] ?? '')?.[1];
    expect(newId).toBeDefined();
    expect(secret).toBeDefined();
    const fresh = await lookup(secret!);
    expect(fresh.status === 'valid' && fresh.principal).toMatchObject({
      keyId: newId,
      allowedModels: new Set(['gpt-test']),
      scopes: new Set(['chat']),
      expiresAt: null,
    });
    const retiring = await lookup(old.secret);
    expect(retiring.status).toBe('valid');
    const graceEnd = retiring.status === 'valid' ? (retiring.principal.expiresAt ?? 0) : 0;
    expect(graceEnd).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 3_600_000);

    const again = await run('keys', 'rotate', old.id);
    expect(again.exitCode).toBe(1);
    expect(again.errors[0]).toContain('already rotated');
  });

  it('rotates with no grace at all, and refuses an unknown key or an unreadable grace period', async () => {
    await seedAdmin();
    const old = await createKey();
    expect((await run('keys', 'rotate', old.id, '--grace', '0s')).exitCode).toBe(0);
    const lookup = await withDatabase((handle) => new KeyService(new KeyRepository(handle.db)).lookup(old.secret));
    expect(lookup).toEqual({ status: 'expired' });

    const unknown = await run('keys', 'rotate', 'no-such-key');
    expect(unknown).toMatchObject({ exitCode: 1, errors: ['aihub: no key with id no-such-key'] });
    const unreadable = await run('keys', 'rotate', old.id, '--grace', 'a while');
    expect(unreadable.exitCode).toBe(1);
    expect(unreadable.errors[0]).toContain('cannot read grace period');
    const tooLong = await run('keys', 'rotate', (await createKey()).id, '--grace', '8d');
    expect(tooLong.exitCode).toBe(1);
    expect(tooLong.errors[0]).toContain('at most 604800');
  });

  it.each([
    ['an unreadable expiry', 'soon', 'cannot read expiry "soon"'],
    ['an expiry in the past', '2000-01-01', 'expiry "2000-01-01" is in the past'],
    ['a zero duration', '0d', 'expiry "0d" is in the past'],
  ])('exits 1 with a message for %s and creates no key', async (_description, expires, message) => {
    await seedAdmin();

    const result = await run('keys', 'create', '--name', 'bad', '--expires', expires);

    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toContain(message);
    expect(await listKeysAsJson()).toEqual([]);
  });

  it('exits 1 when there is no admin to own the key yet', async () => {
    const result = await run('keys', 'create', '--name', 'early');
    expect(result.exitCode).toBe(1);
    expect(result.errors[0]).toContain('no user admin@localhost');
  });

  it('exits 1 naming the variable when the configuration is invalid', async () => {
    process.env.DATABASE_URL = 'mysql://localhost/aihub';
    const result = await run('migrate');
    expect(result.exitCode).toBe(1);
    expect(result.errors).toEqual(['aihub: DATABASE_URL: must be a postgres:// or postgresql:// URL']);
  });

  it('exits non-zero for an unknown command or a missing required option', async () => {
    expect((await run('frobnicate')).exitCode).not.toBe(0);
    const missingName = await run('keys', 'create');
    expect(missingName.exitCode).not.toBe(0);
    expect(missingName.errors.join('\n')).toContain('--name');
  });
});

describe('aihub binary', () => {
  it('prints its version when run by Node', async () => {
    const node = path.join(repositoryRoot, 'node_modules/.bin/node');
    const { stdout, stderr } = await promisify(execFile)(node, ['server/bin/aihub.ts', 'version'], {
      cwd: repositoryRoot,
      timeout: 20_000,
    });
    expect(stdout).toBe(`${serverPackage.version}\n`);
    expect(stderr).toBe('');
  });

  it('stops gracefully on SIGTERM sent the moment it says it is listening', async () => {
    // Three servers at once: the window this guards against was hit in most runs, so three make a miss unlikely.
    const results = await Promise.all([0, 1, 2].map(() => serveThenTerminate()));
    expect(results).toEqual([0, 1, 2].map(() => ({ code: 0, signal: null })));
  });
});

async function serveThenTerminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const serverDataDir = mkdtempSync(path.join(tmpdir(), 'aihub-cli-serve-'));
  const inherited = Object.entries(process.env).filter(
    ([name]) => !name.startsWith('AIHUB_') && name !== 'DATABASE_URL' && name !== 'NODE_OPTIONS',
  );
  const child = spawn(
    path.join(repositoryRoot, 'node_modules/.bin/node'),
    ['server/bin/aihub.ts', 'serve', '--port', '0'],
    {
      cwd: repositoryRoot,
      env: { ...Object.fromEntries(inherited), AIHUB_DATA_DIR: serverDataDir, AIHUB_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    let printed = '';
    let terminated = false;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      printed += text;
      // Exactly one signal: a second SIGTERM during shutdown is meant to kill.
      if (!terminated && printed.includes('AI Hub listening on ')) {
        terminated = true;
        child.kill('SIGTERM');
      }
    });
    const [code, signal] = await exited;
    return { code, signal };
  } finally {
    clearTimeout(killer);
    rmSync(serverDataDir, { recursive: true, force: true });
  }
}
