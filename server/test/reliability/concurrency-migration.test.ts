import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { tenancyInvariantsMigration } from '../../src/db/migrations/0005-tenancy-invariants.ts';
import { isUniqueViolation } from '../../src/db/unique-violation.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const startTime = 1_750_000_000_000;

/**
 * Migration 0005 puts the invariants into the database. Rows written before it may already break them (the races it
 * closes); it repairs them, keeping the oldest, before creating the unique indexes, and the indexes then refuse any
 * new breach.
 */
describe.each(testEngines)('migration 0005 (invariants as unique indexes) on %s', (engine) => {
  let database: TestDatabase;
  let db: Kysely<unknown>;

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    db = database.handle.db as unknown as Kysely<unknown>;
    if (!tenancyInvariantsMigration.down) throw new Error('migration 0005 has no down step');
    await tenancyInvariantsMigration.down(db);
    const tenant = database.handle.db;
    for (const [index, id] of ['u1', 'u2', 'u3'].entries()) {
      await tenant
        .insertInto('users')
        .values({ id, email: `${id}@example.com`, name: id, role: 'member', created_at: startTime + index })
        .execute();
    }
    await tenant
      .insertInto('organizations')
      .values({ id: 'org', name: 'Org', settings: '{}', created_at: startTime, updated_at: startTime })
      .execute();
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  const tenant = () => database.handle.db;

  it('keeps the oldest of several owners and demotes the others to admin', async () => {
    for (const [index, userId] of ['u2', 'u1', 'u3'].entries()) {
      await tenant()
        .insertInto('org_members')
        .values({ org_id: 'org', user_id: userId, role: 'owner', created_at: startTime + index })
        .execute();
    }

    await tenancyInvariantsMigration.up(db);

    const members = await tenant().selectFrom('org_members').select(['user_id', 'role']).orderBy('user_id').execute();
    expect(members).toEqual([
      { user_id: 'u1', role: 'admin' },
      { user_id: 'u2', role: 'owner' },
      { user_id: 'u3', role: 'admin' },
    ]);
    const secondOwner = tenant()
      .updateTable('org_members')
      .set({ role: 'owner' })
      .where('user_id', '=', 'u1')
      .execute();
    await expect(secondOwner).rejects.toSatisfy(isUniqueViolation);
  });

  it('keeps the oldest successor of a key rotated twice; the other stays a plain key', async () => {
    const key = (id: string, rotatedFrom: string | null, createdAt: number) => ({
      id,
      name: id,
      user_id: 'u1',
      org_id: 'org',
      key_hash: `hash-${id}`,
      key_prefix: 'sk-aihub-',
      rotated_from: rotatedFrom,
      created_at: createdAt,
      updated_at: createdAt,
    });
    await tenant()
      .insertInto('api_keys')
      .values([key('old', null, startTime), key('later', 'old', startTime + 2), key('first', 'old', startTime + 1)])
      .execute();

    await tenancyInvariantsMigration.up(db);

    const successors = await tenant().selectFrom('api_keys').select('id').where('rotated_from', '=', 'old').execute();
    expect(successors).toEqual([{ id: 'first' }]);
    const third = tenant()
      .insertInto('api_keys')
      .values(key('third', 'old', startTime + 3))
      .execute();
    await expect(third).rejects.toSatisfy(isUniqueViolation);
  });

  it('gives the pending claim to the newest of several pending invitations for one email', async () => {
    const farFuture = Date.now() + 86_400_000;
    const invitation = (id: string, createdAt: number, expiresAt: number) => ({
      id,
      org_id: 'org',
      email: 'x@example.com',
      role: 'member' as const,
      team_id: null,
      token_hash: `token-${id}`,
      invited_by: 'u1',
      expires_at: expiresAt,
      accepted_at: null,
      declined_at: null,
      revoked_at: null,
      created_at: createdAt,
    });
    await tenant()
      .insertInto('invitations')
      .values([
        invitation('old', startTime, farFuture),
        invitation('new', startTime + 1, farFuture),
        invitation('expired', startTime + 2, startTime + 3),
      ])
      .execute();

    await tenancyInvariantsMigration.up(db);

    const claims = await tenant().selectFrom('invitations').select(['id', 'pending_email']).orderBy('id').execute();
    expect(claims).toEqual([
      { id: 'expired', pending_email: null },
      { id: 'new', pending_email: 'x@example.com' },
      { id: 'old', pending_email: null },
    ]);
  });
});
