import { loadConfig } from '../config/load-config.ts';
import { migrateToLatest, openDatabase } from '../db/database.ts';
import { isAppError } from '../errors/app-error.ts';
import { AccountStatusService } from '../modules/identity/index.ts';
import { KeyRepository, KeyService } from '../modules/keys/index.ts';

/**
 * `aihub users disable|enable --email <e>`: disables or re-enables an account on the operator's behalf. Running
 * instances see it at their next revocation poll (the key epoch is bumped in the same transaction). Returns the exit
 * code.
 */
export async function runSetAccountDisabled(
  options: { email: string },
  disabled: boolean,
  output: (line: string) => void,
): Promise<number> {
  const config = loadConfig();
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(database.db);
    const accounts = new AccountStatusService({
      db: database.db,
      keys: new KeyService(new KeyRepository(database.db)),
    });
    const account = await accounts.setDisabledAsOperator(options.email, disabled);
    output(
      disabled
        ? `disabled ${account.email}: their sessions ended and their keys are refused`
        : `enabled ${account.email}: they may sign in again and their keys work again`,
    );
    return 0;
  } catch (error) {
    if (!isAppError(error)) throw error;
    console.error(`aihub: ${error.message}`);
    return 1;
  } finally {
    await database.close();
  }
}
