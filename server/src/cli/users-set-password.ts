import { loadConfig, readSecretFromEnvironment } from '../config/load-config.ts';
import { passwordHashParametersFor, setPasswordAsOperator } from '../modules/identity/index.ts';
import { withMigratedDatabase } from './migrated-database.ts';

export interface SetPasswordOptions {
  email: string;
  /** Name of an environment variable holding the password; otherwise it is read from stdin. */
  passwordEnv?: string;
}

/**
 * `aihub users set-password`: sets a password on the operator's behalf, e.g. for the bootstrap admin
 * (admin@localhost) to sign in to the console. The password never appears in the arguments, where `ps` would show
 * it. Returns the exit code.
 */
export async function runSetPassword(
  options: SetPasswordOptions,
  output: (line: string) => void,
  input: AsyncIterable<Buffer | string> & { isTTY?: boolean } = process.stdin,
): Promise<number> {
  const password = options.passwordEnv
    ? readSecretFromEnvironment(options.passwordEnv)
    : input.isTTY
      ? undefined
      : await readAll(input);
  if (!password) {
    console.error(
      options.passwordEnv
        ? `aihub: environment variable ${options.passwordEnv} is not set`
        : 'aihub: pipe the password on stdin, or name an environment variable with --password-env',
    );
    return 1;
  }
  const config = loadConfig();
  await withMigratedDatabase(config, async (db) => {
    const account = await setPasswordAsOperator(db, options.email, password, passwordHashParametersFor(config));
    output(`password set for ${account.email}; their other sessions were ended`);
  });
  return 0;
}

async function readAll(input: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  // One trailing newline comes from `echo`; anything else belongs to the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
