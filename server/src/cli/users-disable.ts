import { loadConfig } from '../config/load-config.ts';
import { AccountStatusService } from '../modules/identity/index.ts';
import { KeyRepository, KeyService } from '../modules/keys/index.ts';
import { withMigratedDatabase } from './migrated-database.ts';

/**
 * `aihub users disable|enable --email <e>`: disables or re-enables an account on the operator's behalf. Running
 * instances see it at their next revocation poll (the key epoch is bumped in the same transaction).
 */
export async function runSetAccountDisabled(
  options: { email: string },
  disabled: boolean,
  output: (line: string) => void,
): Promise<void> {
  await withMigratedDatabase(loadConfig(), async (db) => {
    const accounts = new AccountStatusService({ db, keys: new KeyService(new KeyRepository(db)) });
    const account = await accounts.setDisabledAsOperator(options.email, disabled);
    output(
      disabled
        ? `disabled ${account.email}: their sessions ended and their keys are refused`
        : `enabled ${account.email}: they may sign in again and their keys work again`,
    );
  });
}
