import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { AppError } from '../../src/errors/app-error.ts';
import {
  KeyRepository,
  KeyService,
  hashKeySecret,
  keyPrefix,
  type KeyAccessRules,
} from '../../src/modules/keys/index.ts';
import type { OrgScope } from '../../src/modules/shared/index.ts';
import { UserRepository } from '../../src/modules/users/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const userId = 'user-owner';
const startTime = 1_750_000_000_000;

describe.each(testEngines)('KeyService and KeyRepository on %s', (engine) => {
  let database: TestDatabase;
  let repository: KeyRepository;
  let keys: KeyService;
  let now: number;

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    await new UserRepository(database.handle.db).insert({
      id: userId,
      email: 'owner@example.com',
      name: 'Owner',
      role: 'admin',
      created_at: startTime,
    });
    now = startTime;
    repository = new KeyRepository(database.handle.db);
    keys = new KeyService(repository, { now: () => now });
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('creates a key whose secret is stored only as a hash', async () => {
    const { key, secret } = await keys.create({ name: 'ci', userId, allowedModels: ['a', 'b', 'a'] });

    expect(secret.startsWith(keyPrefix)).toBe(true);
    expect(key).toMatchObject({ name: 'ci', userId, allowedModels: ['a', 'b'], expiresAt: null, createdAt: now });
    expect(secret.startsWith(key.prefix)).toBe(true);
    expect(key.prefix.length).toBeLessThan(secret.length / 2);

    const row = await repository.findById(key.id);
    expect(row?.key_hash).toBe(hashKeySecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('lists keys newest first without secrets or hashes', async () => {
    const first = await keys.create({ name: 'first', userId });
    now += 1000;
    const second = await keys.create({ name: 'second', userId, expiresAt: now + 60_000 });

    const list = await keys.list();

    expect(list.map((key) => key.name)).toEqual(['second', 'first']);
    expect(list[0]).toEqual(second.key);
    expect(list[1]).toEqual(first.key);
    const printed = JSON.stringify(list);
    expect(printed).not.toContain(first.secret);
    expect(printed).not.toContain(hashKeySecret(first.secret));
  });

  it('looks up a valid key as its principal and an unknown one as unknown', async () => {
    const { key, secret } = await keys.create({
      name: 'app',
      userId,
      allowedModels: ['gpt-test'],
      rpmLimit: 60,
      concurrencyLimit: 3,
      budgetMicros: 5_000,
      budgetPeriod: 'week',
    });

    const lookup = await keys.lookup(secret);
    expect(lookup.status).toBe('valid');
    if (lookup.status !== 'valid') return;
    expect(lookup.principal).toEqual({
      keyId: key.id,
      userId,
      orgId: null,
      teamId: null,
      allowedModels: new Set(['gpt-test']),
      scopes: new Set(['chat', 'embeddings', 'models']),
      ipAllowlist: null,
      expiresAt: null,
      limits: { rpmLimit: 60, tpmLimit: null, concurrencyLimit: 3, budgetMicros: 5_000, budgetPeriod: 'week' },
    });
    expect(await keys.lookup(`${secret}x`)).toEqual({ status: 'unknown' });
    expect(await keys.lookup('')).toEqual({ status: 'unknown' });
  });

  it('treats a key without an allowlist as allowed every model', async () => {
    const { secret } = await keys.create({ name: 'all', userId });
    const lookup = await keys.lookup(secret);
    expect(lookup.status === 'valid' && lookup.principal.allowedModels).toBeNull();
  });

  it('reports a key as expired from the moment its expiry is reached', async () => {
    const { secret } = await keys.create({ name: 'short', userId, expiresAt: startTime + 1000 });

    now = startTime + 999;
    expect((await keys.lookup(secret)).status).toBe('valid');
    now = startTime + 1000;
    expect(await keys.lookup(secret)).toEqual({ status: 'expired' });
  });

  it('revokes a key once and bumps the api_keys cache epoch each time a key is revoked', async () => {
    const first = await keys.create({ name: 'first', userId });
    const second = await keys.create({ name: 'second', userId });
    expect(await keys.readRevocationEpoch()).toBe(0);

    expect(await keys.revoke(first.key.id)).toBe(true);
    expect(await keys.readRevocationEpoch()).toBe(1);
    expect(await keys.lookup(first.secret)).toEqual({ status: 'revoked' });
    expect((await repository.findById(first.key.id))?.revoked_at).toBe(now);

    // Revoking again is a no-op: other instances need not drop their caches for nothing.
    expect(await keys.revoke(first.key.id)).toBe(false);
    expect(await keys.revoke('no-such-key')).toBe(false);
    expect(await keys.readRevocationEpoch()).toBe(1);

    expect(await keys.revoke(second.key.id)).toBe(true);
    expect(await keys.readRevocationEpoch()).toBe(2);
    expect(typeof (await keys.readRevocationEpoch())).toBe('number');
  });

  it('says revoked rather than expired for a key that is both', async () => {
    const { key, secret } = await keys.create({ name: 'both', userId, expiresAt: startTime + 10 });
    await keys.revoke(key.id);
    now = startTime + 20;
    expect(await keys.lookup(secret)).toEqual({ status: 'revoked' });
  });

  it('only moves last_used_at forward', async () => {
    const { key } = await keys.create({ name: 'used', userId });
    const lastUsed = async () => (await repository.findById(key.id))?.last_used_at;

    await keys.touchLastUsed(new Map([[key.id, startTime + 5000]]));
    expect(await lastUsed()).toBe(startTime + 5000);

    await keys.touchLastUsed(new Map([[key.id, startTime + 1000]]));
    expect(await lastUsed()).toBe(startTime + 5000);

    await keys.touchLastUsed(
      new Map([
        [key.id, startTime + 9000],
        ['unknown-key', startTime],
      ]),
    );
    expect(await lastUsed()).toBe(startTime + 9000);
  });

  it('accepts a chosen secret once and rejects one too short to be safe', async () => {
    const secret = 'sk-aihub-chosen-secret-0000000000';
    await keys.create({ name: 'bootstrap', userId, secret });
    expect((await keys.lookup(secret)).status).toBe('valid');

    await expect(keys.create({ name: 'again', userId, secret })).rejects.toThrow(/unique/i);
    await expect(keys.create({ name: 'short', userId, secret: 'sk-short' })).rejects.toThrow(/20 characters/);
  });

  it('rotates: the replacement copies the settings, the old key lasts exactly the grace period', async () => {
    const old = await keys.create({
      name: 'rotating',
      userId,
      orgId: 'org-1',
      scopes: ['chat'],
      allowedModels: ['gpt-test'],
      ipAllowlist: ['10.0.0.0/8'],
      rpmLimit: 10,
      tpmLimit: 1000,
      budgetMicros: 5,
    });
    const epochBefore = await keys.readRevocationEpoch();

    const rotated = await keys.rotate(old.key.id, 60);

    expect(rotated?.key).toMatchObject({
      name: 'rotating',
      orgId: 'org-1',
      userId,
      scopes: ['chat'],
      allowedModels: ['gpt-test'],
      ipAllowlist: ['10.0.0.0/8'],
      rpmLimit: 10,
      tpmLimit: 1000,
      budgetMicros: 5,
      expiresAt: null,
      rotatedFrom: old.key.id,
      status: 'active',
    });
    expect(await keys.readRevocationEpoch()).toBe(epochBefore + 1);
    now += 59_999;
    expect((await keys.lookup(old.secret)).status).toBe('valid');
    now += 1;
    expect(await keys.lookup(old.secret)).toEqual({ status: 'expired' });
    expect((await keys.lookup(rotated!.secret)).status).toBe('valid');
  });

  it('refuses to rotate a key twice, a revoked key, or with a grace period over 7 days', async () => {
    const once = await keys.create({ name: 'once', userId });
    await keys.rotate(once.key.id, 10);
    await expect(keys.rotate(once.key.id, 10)).rejects.toMatchObject({ code: 'conflict' });

    const revoked = await keys.create({ name: 'revoked', userId });
    await keys.revoke(revoked.key.id);
    await expect(keys.rotate(revoked.key.id)).rejects.toMatchObject({ code: 'conflict' });

    const fresh = await keys.create({ name: 'fresh', userId });
    await expect(keys.rotate(fresh.key.id, 7 * 86_400 + 1)).rejects.toMatchObject({ param: 'grace_period_seconds' });
    expect(await keys.rotate('no-such-key')).toBeUndefined();
  });

  it('writes an audit event for every change in its transaction, without hashes or secrets', async () => {
    const created = await keys.create({ name: 'audited', userId, orgId: 'org-1' });
    const rotated = await keys.rotate(created.key.id, 5);
    await keys.revoke(rotated!.key.id);

    const events = await database.handle.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
    // One clock tick for all of them: compare as a set, since time-ordered ids only order across milliseconds.
    const expected = [
      ['key.create', created.key.id, 'org-1', null],
      ['key.rotate', created.key.id, 'org-1', null],
      ['key.create', rotated!.key.id, 'org-1', null],
      ['key.revoke', rotated!.key.id, 'org-1', null],
    ];
    const actual = events.map((event) => [event.action, event.target_id, event.org_id, event.actor_user_id]);
    expect(actual).toHaveLength(expected.length);
    expect(actual).toEqual(expect.arrayContaining(expected));
    const printed = JSON.stringify(events);
    for (const secret of [created.secret, rotated!.secret]) {
      expect(printed).not.toContain(secret);
      expect(printed).not.toContain(hashKeySecret(secret));
    }
  });

  it('refuses a key for a user that does not exist', async () => {
    await expect(keys.create({ name: 'orphan', userId: 'no-such-user' })).rejects.toThrow(/foreign key/i);
  });
});

describe.each(testEngines)('KeyService leaves every rights decision to its access rules, on %s', (engine) => {
  let database: TestDatabase;
  let now: number;
  const orgId = 'org-rules';

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    now = startTime;
    await new UserRepository(database.handle.db).insert({
      id: userId,
      email: 'owner@example.com',
      name: 'Owner',
      role: 'member',
      created_at: startTime,
    });
    await database.handle.db
      .insertInto('organizations')
      .values({ id: orgId, name: 'Rules', settings: '{}', created_at: startTime, updated_at: startTime })
      .execute();
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  async function joinAs(role: 'owner' | 'viewer'): Promise<OrgScope> {
    await database.handle.db
      .insertInto('org_members')
      .values({ org_id: orgId, user_id: userId, role, created_at: startTime })
      .execute();
    return { orgId, role, actor: { userId, platformRole: 'member', via: 'session' } } as unknown as OrgScope;
  }

  const rules = (allow: boolean): KeyAccessRules => {
    const decide = async () => {
      if (!allow) throw new AppError('forbidden', 'refused by the rules');
    };
    return {
      mayHoldKeys: () => allow,
      mayReadAllKeys: () => allow,
      maySeeKey: () => true,
      authorizeKeyCreation: decide,
      authorizeKeyAction: decide,
    };
  };

  it('lets a viewer do everything when the rules allow it: the service itself never looks at the role', async () => {
    const scope = await joinAs('viewer');
    const keys = new KeyService(new KeyRepository(database.handle.db), { now: () => now, access: rules(true) });
    const created = await keys.createInOrg(scope, { name: 'by rule' });
    await keys.updateInOrg(scope, created.key.id, { name: 'renamed' });
    const rotated = await keys.rotateInOrg(scope, created.key.id, 0);
    expect((await keys.revokeInOrg(scope, rotated.key.id)).status).toBe('revoked');
  });

  it('refuses the owner everything when the rules refuse, writing nothing', async () => {
    const scope = await joinAs('owner');
    const permissive = new KeyService(new KeyRepository(database.handle.db), { now: () => now, access: rules(true) });
    const existing = await permissive.createInOrg(scope, { name: 'existing' });
    const keys = new KeyService(new KeyRepository(database.handle.db), { now: () => now, access: rules(false) });
    const before = await database.handle.db.selectFrom('api_keys').selectAll().execute();

    await expect(keys.createInOrg(scope, { name: 'refused' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(keys.updateInOrg(scope, existing.key.id, { name: 'x' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(keys.rotateInOrg(scope, existing.key.id, 0)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(keys.revokeInOrg(scope, existing.key.id)).rejects.toMatchObject({ code: 'forbidden' });
    expect(await database.handle.db.selectFrom('api_keys').selectAll().execute()).toEqual(before);
  });

  it('tells its listeners after every committed change that affects authentication, and only then', async () => {
    const scope = await joinAs('owner');
    const keys = new KeyService(new KeyRepository(database.handle.db), { now: () => now, access: rules(true) });
    let changes = 0;
    const unsubscribe = keys.onKeysChanged(() => {
      changes += 1;
    });

    const created = await keys.createInOrg(scope, { name: 'watched' });
    expect(changes).toBe(0);
    await keys.updateInOrg(scope, created.key.id, { scopes: ['chat'] });
    expect(changes).toBe(1);
    const rotated = await keys.rotateInOrg(scope, created.key.id, 60);
    expect(changes).toBe(2);
    await expect(keys.rotateInOrg(scope, created.key.id, 60)).rejects.toMatchObject({ code: 'conflict' });
    expect(changes).toBe(2);
    await keys.revokeInOrg(scope, rotated.key.id);
    expect(changes).toBe(3);
    await keys.revokeInOrg(scope, rotated.key.id);
    expect(changes).toBe(3);
    unsubscribe();
    await keys.revokeInOrg(scope, created.key.id);
    expect(changes).toBe(3);
  });
});
