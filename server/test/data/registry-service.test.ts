import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { migrateToLatest } from '../../src/db/database.ts';
import { AppError } from '../../src/errors/app-error.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { RegistryService, credentialContext } from '../../src/modules/registry/index.ts';
import type { Actor, OrgScope, PlatformScope } from '../../src/modules/shared/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const actor: Actor = { userId: 'user_admin', platformRole: 'admin', via: 'session' };
// Scopes are made by the Authorizer in the product; these tests drive the service below it.
const platform = { actor } as PlatformScope;
const orgScope = (orgId: string) => ({ orgId, actor, role: 'owner' }) as OrgScope;

function fileConfig(dataDir: string): Config {
  return loadConfig({
    environment: {},
    overrides: {
      dataDir,
      secretKey: randomBytes(32),
      file: {
        providers: [{ id: 'filed', type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1' }],
        models: [{ name: 'filed-model', deployments: [{ provider: 'filed', model: 'x' }] }],
      },
    },
  });
}

async function expectError(work: Promise<unknown>, code: string, param?: string): Promise<AppError> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  if (param !== undefined) expect((error as AppError).param).toBe(param);
  return error as AppError;
}

describe.each(testEngines)('the model registry service on %s', (engine) => {
  let database: TestDatabase;
  let config: Config;
  let secretBox: SecretBox;
  let service: RegistryService;
  let clock: number;

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    config = fileConfig(database.dataDir);
    secretBox = new SecretBox(randomBytes(32));
    clock = 1_700_000_000_000;
    service = new RegistryService({ db: database.handle.db, config, secretBox, now: () => clock });
    for (const id of ['org_a', 'org_b']) {
      await database.handle.db
        .insertInto('organizations')
        .values({ id, name: id, settings: '{}', deleted_at: null, created_at: clock, updated_at: clock })
        .execute();
    }
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('bumps the epoch once per committed change and not for refused ones', async () => {
    expect(await service.readEpoch()).toBe(0);
    await service.createProvider(platform, { entry: { id: 'p', type: 'openai' }, credentials: [] });
    expect(await service.readEpoch()).toBe(1);
    await expectError(
      service.createProvider(platform, { entry: { id: 'p', type: 'openai' }, credentials: [] }),
      'conflict',
    );
    await expectError(
      service.createModel(platform, { name: 'm', deployments: [{ provider: 'nowhere', model: 'x' }] }),
      'invalid_request',
      'deployments[0].provider',
    );
    expect(await service.readEpoch()).toBe(1);
    await service.createModel(platform, { name: 'm', deployments: [{ provider: 'p', model: 'x' }] });
    await service.deleteModel(platform, 'm');
    expect(await service.readEpoch()).toBe(3);
  });

  it('lets only one of two concurrent changes claim a name', async () => {
    await service.createProvider(platform, { entry: { id: 'p', type: 'openai' }, credentials: [] });
    const attempts = await Promise.allSettled(
      ['first', 'second', 'third'].map((name) =>
        service.createModel(platform, {
          name,
          aliases: ['shared-alias'],
          deployments: [{ provider: 'p', model: name }],
        }),
      ),
    );
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
    for (const attempt of attempts) {
      if (attempt.status === 'rejected') expect((attempt.reason as AppError).code).toBe('conflict');
    }
    expect((await service.listModels(platform)).filter((model) => model.config.source === 'database')).toHaveLength(1);
  });

  it('seals keys bound to their owner, provider and credential: a sealed value moved to another row is useless', async () => {
    await service.createProvider(orgScope('org_a'), {
      entry: { id: 'p', type: 'openai' },
      credentials: [
        { id: 'one', apiKey: 'sk-first-key-aaaaaaaa' },
        { id: 'two', apiKey: 'sk-second-key-bbbbbbb' },
      ],
    });
    const rows = await database.handle.db.selectFrom('provider_credentials').selectAll().orderBy('id').execute();
    expect(JSON.stringify(rows)).not.toContain('sk-first-key');
    const sealedOne = rows[0]?.api_key_sealed ?? '';
    expect(secretBox.decrypt(sealedOne, credentialContext('org_a', 'p', 'one'))).toBe('sk-first-key-aaaaaaaa');
    expect(() => secretBox.decrypt(sealedOne, credentialContext('org_b', 'p', 'one'))).toThrow();
    await database.handle.db
      .updateTable('provider_credentials')
      .set({ api_key_sealed: sealedOne })
      .where('id', '=', 'two')
      .execute();
    const snapshot = await service.loadSnapshot();
    expect(snapshot.providers[0]?.credentials.map((credential) => credential.apiKey)).toEqual([
      'sk-first-key-aaaaaaaa',
      undefined,
    ]);
  });

  it('snapshots stored entries only, leaving out those the file now defines (the file wins)', async () => {
    await service.createProvider(platform, { entry: { id: 'p', preset: 'deepseek' }, credentials: [{ apiKey: 'k' }] });
    await service.createModel(orgScope('org_a'), {
      name: 'own',
      kind: 'embedding',
      deployments: [{ provider: 'p', model: 'x', timeouts: { total_ms: 5000 } }],
      retry: { max_attempts: 2 },
    });
    // Rows the file took over after they were stored (written straight to the tables, as an older file allowed).
    await database.handle.db
      .insertInto('providers')
      .values({
        pk: 'p_filed',
        org_id: null,
        id: 'filed',
        type: 'openai',
        preset: null,
        base_url: null,
        headers: '{}',
        options: '{}',
        max_connections: null,
        timeouts: null,
        created_at: clock,
        updated_at: clock,
      })
      .execute();
    const snapshot = await service.loadSnapshot();
    expect(
      snapshot.providers.map((provider) => [provider.id, provider.type, provider.baseUrl, provider.source]),
    ).toEqual([['p', 'openai-compatible', 'https://api.deepseek.com', 'database']]);
    expect(snapshot.models).toHaveLength(1);
    expect(snapshot.models[0]).toMatchObject({
      name: 'own',
      kind: 'embedding',
      orgId: 'org_a',
      source: 'database',
      retry: { maxAttempts: 2, backoffBaseMs: config.routing.retry.backoffBaseMs },
      deployments: [{ providerId: 'p', upstreamModel: 'x', weight: 1, priority: 1, timeouts: { totalMs: 5000 } }],
    });
    expect(snapshot.orgPolicies.size).toBe(0);
    // The platform list shows the file's entry once, not the stored row it shadows.
    const listed = (await service.listProviders(platform)).map((provider) => [
      provider.config.id,
      provider.config.source,
    ]);
    expect(listed).toEqual([
      ['filed', 'file'],
      ['p', 'database'],
    ]);
    // A deleted organization's entries leave routing at once, long before the purge removes them.
    await database.handle.db
      .updateTable('organizations')
      .set({ deleted_at: clock })
      .where('id', '=', 'org_a')
      .execute();
    expect((await service.loadSnapshot()).models).toEqual([]);
  });

  it('does not blame a change for problems it did not make (after the file changed under stored models)', async () => {
    await service.createProvider(platform, { entry: { id: 'p', type: 'openai' }, credentials: [] });
    await service.createModel(platform, { name: 'stale', deployments: [{ provider: 'p', model: 'x' }] });
    // The provider disappears behind the service's back: `stale` now has a problem that no API change made.
    await database.handle.db.deleteFrom('providers').where('id', '=', 'p').execute();
    await service.createProvider(platform, { entry: { id: 'q', type: 'openai' }, credentials: [] });
    const created = await service.createModel(platform, {
      name: 'fresh',
      deployments: [{ provider: 'q', model: 'y' }],
    });
    expect(created.config.name).toBe('fresh');
  });

  it('checks provider entries as the file loader does', async () => {
    await expectError(
      service.createProvider(platform, { entry: { id: 'a' }, credentials: [] }),
      'invalid_request',
      'type',
    );
    await expectError(
      service.createProvider(platform, {
        entry: { id: 'a', type: 'azure-openai', base_url: 'https://x.openai.azure.com' },
        credentials: [],
      }),
      'invalid_request',
      'options.api_version',
    );
    await expectError(
      service.createProvider(platform, { entry: { id: 'a', type: 'openai-compatible' }, credentials: [] }),
      'invalid_request',
      'base_url',
    );
    await expectError(
      service.createProvider(platform, { entry: { id: 'a', preset: 'deepseek', type: 'openai' }, credentials: [] }),
      'invalid_request',
      'type',
    );
    await expectError(
      service.createProvider(platform, { entry: { id: 'a', preset: 'deepseek' }, credentials: [] }),
      'invalid_request',
      'api_key',
    );
    await expectError(
      service.createProvider(platform, {
        entry: { id: 'a', type: 'openai' },
        credentials: [{ apiKey: 'k', weight: 0 }],
      }),
      'invalid_request',
      'credentials',
    );
    await expectError(
      service.createProvider(platform, {
        entry: { id: 'a', type: 'openai' },
        credentials: [
          { id: 'x', apiKey: 'k' },
          { id: 'x', apiKey: 'l' },
        ],
      }),
      'invalid_request',
      'credentials',
    );
    await expectError(
      service.createProvider(platform, { entry: { id: 'a', type: 'openai', base_url: 'http://' }, credentials: [] }),
      'invalid_request',
      'base_url',
    );
    await expectError(
      service.createProvider(platform, {
        entry: { id: 'a', type: 'openai', headers: { Host: 'internal.example.com' } },
        credentials: [],
      }),
      'invalid_request',
      'headers.Host',
    );
    expect(await service.readEpoch()).toBe(0);
  });

  it('resolves tenant base URLs through DNS and refuses private answers', async () => {
    const guarded = new RegistryService({
      db: database.handle.db,
      config,
      secretBox,
      resolveHost: async (host) =>
        host === 'inside.example.com'
          ? [{ address: '192.168.1.10', family: 4 }]
          : [{ address: '93.184.216.34', family: 4 }],
    });
    await expectError(
      guarded.createProvider(orgScope('org_a'), {
        entry: { id: 'in', type: 'openai', base_url: 'https://inside.example.com/v1' },
        credentials: [],
      }),
      'invalid_request',
      'base_url',
    );
    const outside = await guarded.createProvider(orgScope('org_a'), {
      entry: { id: 'out', type: 'openai', base_url: 'https://outside.example.com/v1' },
      credentials: [],
    });
    expect(outside.config.baseUrl).toBe('https://outside.example.com/v1');
    expect([...(await guarded.knownProviderIds('org_a'))].sort()).toEqual(['filed', 'out']);
    expect([...(await guarded.knownProviderIds('org_b'))]).toEqual(['filed']);
  });
});
