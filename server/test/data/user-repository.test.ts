import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { createOrganizationAsOperator } from '../../src/modules/tenancy/index.ts';
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
  it('finds by id, sets the password hash and marks the address verified only once', async () => {
    await users.insert(alice);
    expect(await users.findById(alice.id)).toEqual(alice);
    expect(await users.findById('user-nobody')).toBeUndefined();

    await users.setPasswordHash(alice.id, 'scrypt$new', 1_750_000_001_000);
    expect(await users.markEmailVerified(alice.id, 1_750_000_002_000)).toBe(true);
    expect(await users.markEmailVerified(alice.id, 1_750_000_003_000)).toBe(false);

    expect(await users.findById(alice.id)).toEqual({
      ...alice,
      password_hash: 'scrypt$new',
      email_verified_at: 1_750_000_002_000,
      updated_at: 1_750_000_002_000,
    });
  });

  it('lists the live organizations of a user by name, narrowed to one for an organization key', async () => {
    await users.insert(alice);
    const zeta = await createOrganizationAsOperator(database.handle.db, 'Zeta', alice.id, 1_750_000_000_000);
    const alpha = await createOrganizationAsOperator(database.handle.db, 'Alpha', alice.id, 1_750_000_000_000);
    const gone = await createOrganizationAsOperator(database.handle.db, 'Gone', alice.id, 1_750_000_000_000);
    await database.handle.db
      .updateTable('organizations')
      .set({ deleted_at: 1_750_000_000_500 })
      .where('id', '=', gone)
      .execute();

    expect(await users.listOrganizations(alice.id)).toEqual([
      { id: alpha, name: 'Alpha', role: 'owner' },
      { id: zeta, name: 'Zeta', role: 'owner' },
    ]);
    expect(await users.listOrganizations(alice.id, zeta)).toEqual([{ id: zeta, name: 'Zeta', role: 'owner' }]);
    expect(await users.listOrganizations(alice.id, null)).toEqual([]);
    expect(await users.listOrganizations('user-nobody')).toEqual([]);
  });
});
