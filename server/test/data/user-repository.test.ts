import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { UserRepository, type UserRow } from '../../src/modules/users/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const alice: UserRow = {
  id: 'user-alice',
  email: 'alice@example.com',
  name: 'Alice',
  role: 'member',
  password_hash: null,
  email_verified_at: null,
  disabled_at: null,
  created_at: 1_750_000_000_123,
  updated_at: 1_750_000_000_123,
};

describe.each(testEngines)('UserRepository on %s', (engine) => {
  let database: TestDatabase;
  let users: UserRepository;
  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    users = new UserRepository(database.handle.db);
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('counts, inserts and finds a user by email with every field intact', async () => {
    expect(await users.count()).toBe(0);

    await users.insert(alice);
    await users.insert({ ...alice, id: 'user-bob', email: 'bob@example.com', name: 'Bob', role: 'admin' });

    expect(await users.count()).toBe(2);
    expect(await users.findByEmail('alice@example.com')).toEqual(alice);
    expect(await users.findByEmail('nobody@example.com')).toBeUndefined();
  });

  it('rejects a second user with the same email and keeps the first', async () => {
    await users.insert(alice);

    await expect(users.insert({ ...alice, id: 'user-other', name: 'Impostor' })).rejects.toThrow(/unique/i);

    expect(await users.count()).toBe(1);
    expect((await users.findByEmail(alice.email))?.name).toBe('Alice');
  });
});
