import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { runCli } from '../../src/cli/index.ts';
import { runSetPassword } from '../../src/cli/users-set-password.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { verifyPassword } from '../../src/lib/password.ts';
import { UserRepository } from '../../src/modules/users/index.ts';
import { goodPassword } from '../support/identity.ts';
import { isolateCliEnvironment, type CliEnvironment } from '../support/cli-environment.ts';

let dataDir: string;
let environment: CliEnvironment;
let errorSpy: MockInstance<typeof console.error>;

beforeEach(async () => {
  environment = isolateCliEnvironment('aihub-identity-cli-', ['AIHUB_PASSWORD_HASH_COST', 'TEST_ADMIN_PASSWORD']);
  dataDir = environment.dataDir;
  process.env.AIHUB_PASSWORD_HASH_COST = '14';
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  await migrateToLatest(handle.db);
  await new UserRepository(handle.db).insert({
    id: 'admin-user',
    email: 'admin@localhost',
    name: 'Administrator',
    role: 'admin',
    created_at: Date.now(),
  });
  await handle.close();
});

afterEach(() => {
  errorSpy.mockRestore();
  environment.restore();
});

async function readAdmin() {
  const handle = openDatabase({ databaseUrl: undefined, dataDir });
  try {
    const admin = await handle.db
      .selectFrom('users')
      .select(['password_hash', 'email_verified_at'])
      .where('email', '=', 'admin@localhost')
      .executeTakeFirstOrThrow();
    const events = await handle.db
      .selectFrom('audit_events')
      .select(['action', 'before', 'after'])
      .where('target_id', '=', 'admin-user')
      .execute();
    return { admin, events };
  } finally {
    await handle.close();
  }
}

describe('aihub users set-password', () => {
  it('sets the password from --password-env, verifies the address, and audits it', async () => {
    process.env.TEST_ADMIN_PASSWORD = goodPassword;
    const lines: string[] = [];
    const exitCode = await runCli(
      ['node', 'aihub', 'users', 'set-password', '--email', 'Admin@Localhost', '--password-env', 'TEST_ADMIN_PASSWORD'],
      (line) => lines.push(line),
    );
    expect(exitCode).toBe(0);
    expect(lines.join('\n')).toContain('password set for admin@localhost');
    expect(lines.join('\n')).not.toContain(goodPassword);
    const { admin, events } = await readAdmin();
    expect(admin.password_hash).toMatch(/^\$scrypt\$ln=14,/);
    expect(await verifyPassword(goodPassword, admin.password_hash ?? '')).toBe(true);
    expect(admin.email_verified_at).not.toBeNull();
    expect(events.map((event) => event.action)).toEqual(['user.password_set']);
  });

  it('reads the password from stdin, dropping one trailing newline', async () => {
    async function* stdin() {
      yield Buffer.from(`${goodPassword}\n`);
    }
    const exitCode = await runSetPassword({ email: 'admin@localhost' }, () => undefined, stdin());
    expect(exitCode).toBe(0);
    const { admin } = await readAdmin();
    expect(await verifyPassword(goodPassword, admin.password_hash ?? '')).toBe(true);
  });

  it('refuses a weak password, an unknown user, or a missing variable with exit code 1 and a message', async () => {
    process.env.TEST_ADMIN_PASSWORD = 'short';
    const weak = await runCli(
      ['node', 'aihub', 'users', 'set-password', '--email', 'admin@localhost', '--password-env', 'TEST_ADMIN_PASSWORD'],
      () => undefined,
    );
    expect(weak).toBe(1);
    process.env.TEST_ADMIN_PASSWORD = goodPassword;
    const unknown = await runCli(
      [
        'node',
        'aihub',
        'users',
        'set-password',
        '--email',
        'nobody@localhost',
        '--password-env',
        'TEST_ADMIN_PASSWORD',
      ],
      () => undefined,
    );
    expect(unknown).toBe(1);
    const missing = await runCli(
      ['node', 'aihub', 'users', 'set-password', '--email', 'admin@localhost', '--password-env', 'NOT_SET_ANYWHERE'],
      () => undefined,
    );
    expect(missing).toBe(1);
    const messages = errorSpy.mock.calls.map((call) => String(call[0]));
    expect(messages).toEqual([
      expect.stringContaining('rule: min_length'),
      expect.stringContaining('no user'),
      expect.stringContaining('NOT_SET_ANYWHERE'),
    ]);
    expect((await readAdmin()).admin.password_hash).toBeNull();
  });
});
