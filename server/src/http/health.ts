import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/database.ts';
import { AppError } from '../errors/app-error.ts';

/** Liveness (the process answers) and readiness (it can reach its database). */
export function registerHealth(app: FastifyInstance, database: DatabaseHandle): void {
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async () => {
    try {
      await sql`select 1`.execute(database.db);
    } catch (error) {
      throw new AppError('service_unavailable', 'the database is not reachable', { cause: error });
    }
    return { status: 'ok', database: database.engine };
  });
}
