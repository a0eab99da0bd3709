import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { ProviderRepository, ProviderService } from '../../src/modules/providers/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

describe.each(testEngines)('stored providers on %s', (engine) => {
  let database: TestDatabase;
  let service: ProviderService;
  const secretKey = randomBytes(32);

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    service = new ProviderService(
      new ProviderRepository(database.handle.db),
      new SecretBox(secretKey),
      () => 1_700_000_000_000,
    );
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('keeps the credential sealed at rest and returns it decrypted only to the runtime configuration', async () => {
    await service.save({
      id: 'openai',
      type: 'openai',
      baseUrl: 'https://api.openai.com/v1/',
      apiKey: 'sk-live-secret-123',
    });

    const row = await database.handle.db
      .selectFrom('providers')
      .selectAll()
      .where('id', '=', 'openai')
      .executeTakeFirstOrThrow();
    expect(row.api_key_sealed).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain('sk-live-secret-123');
    expect(await service.list()).toEqual([
      {
        id: 'openai',
        type: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        hasApiKey: true,
        updatedAt: 1_700_000_000_000,
      },
    ]);
    const [config] = await service.loadConfigs();
    expect(config).toMatchObject({ id: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-live-secret-123' });
  });

  it('refuses a sealed credential moved to another provider, or read with another key', async () => {
    await service.save({ id: 'a', type: 'openai', baseUrl: 'https://a.example/v1', apiKey: 'key-for-a' });
    await service.save({ id: 'b', type: 'openai', baseUrl: 'https://b.example/v1', apiKey: undefined });
    const sealedForA = (
      await database.handle.db
        .selectFrom('providers')
        .select('api_key_sealed')
        .where('id', '=', 'a')
        .executeTakeFirstOrThrow()
    ).api_key_sealed;
    await database.handle.db
      .updateTable('providers')
      .set({ api_key_sealed: sealedForA })
      .where('id', '=', 'b')
      .execute();
    await expect(service.loadConfigs()).rejects.toThrow();

    const otherKey = new ProviderService(new ProviderRepository(database.handle.db), new SecretBox(randomBytes(32)));
    await database.handle.db.deleteFrom('providers').where('id', '=', 'b').execute();
    await expect(otherKey.loadConfigs()).rejects.toThrow();
  });

  it('removes a provider', async () => {
    await service.save({
      id: 'gone',
      type: 'openai-compatible',
      baseUrl: 'http://127.0.0.1:11434/v1',
      apiKey: undefined,
    });
    expect(await service.remove('gone')).toBe(true);
    expect(await service.remove('gone')).toBe(false);
    expect(await service.list()).toEqual([]);
  });
});
