import { describe, expect, it } from 'vitest';
import type { ModelConfig, ProviderConfig } from '../config/config.ts';
import {
  defaultBreaker,
  defaultRetryPolicy,
  defaultTimeouts,
  noFallbacks,
  toPricing,
} from '../config/registry-config.ts';
import { RegistryHolder, type RegistrySnapshot, type RegistrySource, type RegistrySwap } from './registry-holder.ts';

function provider(id: string, source: ProviderConfig['source'], orgId: string | null = null): ProviderConfig {
  return {
    id,
    type: 'openai',
    preset: undefined,
    baseUrl: `https://${id}.example/v1`,
    credentials: [{ id: 'default', apiKey: undefined, weight: 1 }],
    headers: {},
    options: {},
    maxConnections: 4,
    timeouts: defaultTimeouts,
    orgId,
    source,
  };
}

function model(
  name: string,
  providerId: string,
  source: ModelConfig['source'],
  options: { orgId?: string | null; priced?: boolean; aliases?: string[] } = {},
): ModelConfig {
  return {
    name,
    kind: 'chat',
    aliases: options.aliases ?? [],
    pricing: toPricing(options.priced === false ? undefined : { input: '1' }, 'pricing'),
    deployments: [{ providerId, upstreamModel: 'up', weight: 1, priority: 1, pricing: undefined, timeouts: {} }],
    strategy: 'weighted',
    retry: defaultRetryPolicy,
    fallbacks: noFallbacks,
    orgId: options.orgId ?? null,
    source,
  };
}

const routing = {
  breaker: defaultBreaker,
  retry: defaultRetryPolicy,
  timeouts: defaultTimeouts,
  registryPollMs: 0,
  respectUpstreamLimits: true,
};
const fileConfig = {
  providers: [provider('file-provider', 'file')],
  models: [model('file-model', 'file-provider', 'file', { aliases: ['file-alias'] })],
  routing,
};

class FakeSource implements RegistrySource {
  snapshot: RegistrySnapshot = { epoch: 1, providers: [], models: [], orgPolicies: new Map() };
  fail = false;
  loads = 0;
  epochReads = 0;
  async loadSnapshot(): Promise<RegistrySnapshot> {
    this.loads += 1;
    if (this.fail) throw new Error('database away');
    return this.snapshot;
  }
  async readEpoch(): Promise<number> {
    this.epochReads += 1;
    if (this.fail) throw new Error('database away');
    return this.snapshot.epoch;
  }
}

describe('RegistryHolder', () => {
  it('serves the file configuration alone when there is no database registry', async () => {
    const swaps: RegistrySwap[] = [];
    const holder = new RegistryHolder(
      { ...fileConfig, models: [...fileConfig.models, model('free', 'file-provider', 'file', { priced: false })] },
      { onSwap: (_table, change) => swaps.push(change) },
    );
    await holder.start();
    expect(holder.table.resolve('file-alias')?.name).toBe('file-model');
    expect(swaps).toEqual([{ epoch: 0, shadowed: [], unpriced: ['free'] }]);
    holder.stop();
  });

  it('adds database entries, lets the file win over them, and reloads only when the epoch moves', async () => {
    const source = new FakeSource();
    source.snapshot = {
      epoch: 1,
      providers: [provider('file-provider', 'database'), provider('db-provider', 'database')],
      models: [
        model('db-model', 'db-provider', 'database'),
        model('shadow', 'db-provider', 'database', { aliases: ['file-alias'] }),
        model('org-model', 'db-provider', 'database', { orgId: 'org_1', priced: false }),
      ],
      orgPolicies: new Map([['org_1', { allowedProviders: ['db-provider'], defaultModels: ['org-model'] }]]),
    };
    const swaps: RegistrySwap[] = [];
    const holder = new RegistryHolder(fileConfig, { source, onSwap: (_table, change) => swaps.push(change) });
    await holder.start();
    const table = holder.table;
    expect(table.resolve('db-model')?.deployments[0]?.id).toBe('db-provider/up');
    expect(table.resolve('shadow')).toBeUndefined();
    expect(table.resolve('file-alias')?.name).toBe('file-model');
    expect(table.resolve('file-model')?.deployments[0]?.provider.config.source).toBe('file');
    expect(table.resolve('org-model')).toBeUndefined();
    expect(table.resolve('org-model', 'org_1')?.orgId).toBe('org_1');
    expect(table.policyFor('org_1').defaultModels).toEqual(['org-model']);
    expect(swaps[0]).toEqual({
      epoch: 1,
      shadowed: ['provider file-provider', 'model shadow'],
      unpriced: ['org-model (organization org_1)'],
    });

    await holder.poll();
    expect(holder.table).toBe(table); // same epoch: no reload
    source.snapshot = { ...source.snapshot, epoch: 2, models: [model('renamed', 'db-provider', 'database')] };
    await Promise.all([holder.poll(), holder.poll()]);
    expect(source.loads).toBe(2); // concurrent polls share one check
    expect(holder.table).not.toBe(table);
    expect(holder.table.resolve('renamed')).toBeDefined();
    expect(holder.table.resolve('db-model')).toBeUndefined();
    // The table a request started with is unchanged by the swap.
    expect(table.resolve('db-model')).toBeDefined();
    holder.stop();
  });

  it('keeps the current table when a reload fails, and reports it', async () => {
    const source = new FakeSource();
    source.snapshot = { ...source.snapshot, models: [model('db-model', 'file-provider', 'database')] };
    const errors: unknown[] = [];
    const holder = new RegistryHolder(fileConfig, { source, onError: (error) => errors.push(error) });
    await holder.start();
    const table = holder.table;
    source.fail = true;
    await holder.poll();
    expect(holder.table).toBe(table);
    expect(errors).toHaveLength(1);
    source.fail = false;
    source.snapshot = { ...source.snapshot, epoch: 5 };
    await holder.poll();
    expect(holder.table).not.toBe(table);
  });

  it('fails the start when the database registry cannot be read', async () => {
    const source = new FakeSource();
    source.fail = true;
    await expect(new RegistryHolder(fileConfig, { source }).start()).rejects.toThrow('database away');
  });

  it('polls on its own at the configured interval', async () => {
    const source = new FakeSource();
    const holder = new RegistryHolder({ ...fileConfig, routing: { ...routing, registryPollMs: 5 } }, { source });
    await holder.start();
    await new Promise((resolve) => setTimeout(resolve, 60));
    holder.stop();
    expect(source.epochReads).toBeGreaterThan(0);
  });
});
