import { sql } from 'kysely';
import type { Database } from './database.ts';

/** The cheapest statement that proves the database answers: readiness checks run it. */
export async function runPingQuery(db: Database): Promise<void> {
  await sql`select 1`.execute(db);
}
