import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { runCli } from '../../src/cli/index.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { KeyRepository, KeyService } from '../../src/modules/keys/index.ts';
import { UserRepository } from '../../src/modules/users/index.ts';
import { isolateCliEnvironment, type CliEnvironment } from '../support/cli-environment.ts';

let dataDir: string;
let environment: CliEnvironment;
let errorSpy: MockInstance<typeof console.error>;
let keySecret: string;

beforeEach(async () => {
  environment = isolateCliEnvironment('aihub-users-disable-');
  dataDir = environment.dataDir;
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  await migrateToLatest(handle.db);
  const users = new UserRepository(handle.db);
  const now = Date.now();
  await users.insert({ id: 'admin-user', email: 'admin@localhost', name: 'Admin', role: 'admin', created_at: now });
  await users.insert({ id: 'person', email: 'person@example.com', name: 'Person', role: 'member', created_at: now });
  await handle.db
    .insertInto('refresh_tokens')
    .values({
      id: 'token-1',
      user_id: 'person',
      family_id: 'session-1',
      token_hash: 'hash-1',
      expires_at: now + 86_400_000,
      revoked_at: null,
      replaced_by: null,
      user_agent: null,
      ip: null,
      created_at: now,
    })
    .execute();
  keySecret = (await new KeyService(new KeyRepository(handle.db)).create({ name: 'cli', userId: 'person' })).secret;
  await handle.close();
});

afterEach(() => {
  errorSpy.mockRestore();
  environment.restore();
});

async function withDatabase<Result>(read: (handle: DatabaseHandle) => Promise<Result>): Promise<Result> {
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  try {
    return await read(handle);
  } finally {
    await handle.close();
  }
}

/** What the gateway would decide for the person's key, the key epoch, and their account as stored. */
const readState = () =>
  withDatabase(async (handle) => {
    const keys = new KeyService(new KeyRepository(handle.db));
    return {
      key: (await keys.lookup(keySecret)).status,
      epoch: await keys.readRevocationEpoch(),
      disabledAt: (await new UserRepository(handle.db).findById('person'))?.disabled_at ?? null,
      liveTokens: await handle.db
        .selectFrom('refresh_tokens')
        .select('id')
        .where('user_id', '=', 'person')
        .where('revoked_at', 'is', null)
        .execute(),
      events: await handle.db
        .selectFrom('audit_events')
        .select(['action', 'actor_user_id'])
        .where('target_id', '=', 'person')
        .orderBy('id')
        .execute(),
    };
  });

const aihub = async (...argv: string[]) => {
  const lines: string[] = [];
  const exitCode = await runCli(['node', 'aihub', ...argv], (line) => lines.push(line));
  return { exitCode, output: lines.join('\n') };
};

describe('aihub users disable / enable', () => {
  it('disables an account (sessions ended, keys refused, epoch bumped, audited) and enables it again', async () => {
    const before = await readState();
    expect(before.key).toBe('valid');

    const disabled = await aihub('users', 'disable', '--email', 'Person@Example.com');
    expect(disabled.exitCode).toBe(0);
    expect(disabled.output).toContain('disabled person@example.com');
    const afterDisable = await readState();
    expect(afterDisable.disabledAt).toEqual(expect.any(Number));
    expect(afterDisable.key).toBe('owner_inactive');
    expect(afterDisable.epoch).toBeGreaterThan(before.epoch);
    expect(afterDisable.liveTokens).toEqual([]);
    expect(afterDisable.events).toEqual([{ action: 'user.disable', actor_user_id: null }]);

    const enabled = await aihub('users', 'enable', '--email', 'person@example.com');
    expect(enabled.exitCode).toBe(0);
    expect(enabled.output).toContain('enabled person@example.com');
    const afterEnable = await readState();
    expect(afterEnable.disabledAt).toBeNull();
    expect(afterEnable.key).toBe('valid');
    expect(afterEnable.epoch).toBeGreaterThan(afterDisable.epoch);
    expect(afterEnable.events.map((event) => event.action)).toEqual(['user.disable', 'user.enable']);
  });

  it('refuses to disable the last active platform admin, and names an unknown address', async () => {
    const lastAdmin = await aihub('users', 'disable', '--email', 'admin@localhost');
    expect(lastAdmin.exitCode).toBe(1);
    expect(errorSpy).toHaveBeenCalledWith(expect.stringContaining('last active platform admin'));
    const admin = await withDatabase((handle) => new UserRepository(handle.db).findById('admin-user'));
    expect(admin?.disabled_at).toBeNull();

    const unknown = await aihub('users', 'enable', '--email', 'nobody@example.com');
    expect(unknown.exitCode).toBe(1);
    expect(errorSpy).toHaveBeenCalledWith(expect.stringContaining('no user with the email address nobody@example.com'));
  });

  it('requires --email', async () => {
    expect((await aihub('users', 'disable')).exitCode).not.toBe(0);
  });
});
