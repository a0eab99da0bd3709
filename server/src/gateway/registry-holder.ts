import type { Config, ModelConfig, ProviderConfig } from '../config/config.ts';
import { ModelCatalog } from './model-catalog.ts';

/** What the database side of the registry hands the gateway (`modules/registry` provides it). */
export interface RegistrySnapshot {
  readonly epoch: number;
  readonly providers: readonly ProviderConfig[];
  readonly models: readonly ModelConfig[];
  readonly orgPolicies: ReadonlyMap<string, { allowedProviders: readonly string[]; defaultModels: readonly string[] }>;
}

export interface RegistrySource {
  loadSnapshot(): Promise<RegistrySnapshot>;
  /** Cheap: read every poll interval by every instance. */
  readEpoch(): Promise<number>;
}

export interface RegistryHolderOptions {
  readonly source?: RegistrySource | undefined;
  readonly now?: () => number;
  /** Called after every table swap (the first included), e.g. to drop breakers of deployments that are gone. */
  readonly onSwap?: (table: ModelCatalog, change: RegistrySwap) => void;
  readonly onError?: (error: unknown) => void;
}

export interface RegistrySwap {
  readonly epoch: number;
  /** Database entries dropped because the configuration file defines the same id or name (the file wins). */
  readonly shadowed: readonly string[];
  /** Models metered at zero cost because they have no price. */
  readonly unpriced: readonly string[];
}

/**
 * Holds the routing table every request reads (`table`, one field read). It is built from the file configuration
 * plus the database registry, and rebuilt when the registry epoch changes: every instance polls it, so an edit made
 * through the API reaches all of them within one poll interval. A rebuild swaps the table whole; requests already
 * routed keep the one they started with, so none fails during the swap. A failed reload keeps the current table.
 */
export class RegistryHolder {
  readonly #config: Pick<Config, 'providers' | 'models' | 'routing'>;
  readonly #source: RegistrySource | undefined;
  readonly #now: () => number;
  readonly #onSwap: (table: ModelCatalog, change: RegistrySwap) => void;
  readonly #onError: (error: unknown) => void;
  #table: ModelCatalog;
  #epoch: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(config: Pick<Config, 'providers' | 'models' | 'routing'>, options: RegistryHolderOptions = {}) {
    this.#config = config;
    this.#source = options.source;
    this.#now = options.now ?? Date.now;
    this.#onSwap = options.onSwap ?? (() => {});
    this.#onError = options.onError ?? (() => {});
    this.#table = new ModelCatalog(config, this.#now());
  }

  get table(): ModelCatalog {
    return this.#table;
  }

  /** Loads the database registry (a failure here fails the start: routing must not come up half-configured). */
  async start(): Promise<void> {
    if (this.#source) await this.#reload(await this.#source.loadSnapshot());
    else this.#swap(this.#table, { epoch: 0, shadowed: [], unpriced: unpricedModels(this.#config.models) });
    if (this.#source && this.#config.routing.registryPollMs > 0) {
      this.#timer = setInterval(() => void this.poll(), this.#config.routing.registryPollMs);
      this.#timer.unref();
    }
  }

  /** Checks the epoch and reloads when it moved; concurrent calls share one check. */
  poll(): Promise<void> {
    this.#polling ??= this.#pollOnce().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #pollOnce(): Promise<void> {
    const source = this.#source;
    if (!source) return;
    try {
      if ((await source.readEpoch()) === this.#epoch) return;
      await this.#reload(await source.loadSnapshot());
    } catch (error) {
      this.#onError(error);
    }
  }

  async #reload(snapshot: RegistrySnapshot): Promise<void> {
    const fileProviders = new Set(this.#config.providers.map((provider) => provider.id));
    const fileNames = new Set(this.#config.models.flatMap((model) => [model.name, ...model.aliases]));
    const shadowed: string[] = [];
    const providers = snapshot.providers.filter((provider) => {
      const clash = provider.orgId === null && fileProviders.has(provider.id);
      if (clash) shadowed.push(`provider ${provider.id}`);
      return !clash;
    });
    const models = snapshot.models.filter((model) => {
      const clash = model.orgId === null && [model.name, ...model.aliases].some((name) => fileNames.has(name));
      if (clash) shadowed.push(`model ${model.name}`);
      return !clash;
    });
    const allModels = [...this.#config.models, ...models];
    const table = new ModelCatalog(
      {
        providers: [...this.#config.providers, ...providers],
        models: allModels,
        orgPolicies: snapshot.orgPolicies,
      },
      this.#now(),
    );
    this.#epoch = snapshot.epoch;
    this.#swap(table, { epoch: snapshot.epoch, shadowed, unpriced: unpricedModels(allModels) });
  }

  #swap(table: ModelCatalog, change: RegistrySwap): void {
    this.#table = table;
    this.#onSwap(table, change);
  }
}

function unpricedModels(models: readonly ModelConfig[]): string[] {
  return models
    .filter((model) => !model.pricing.priced && model.deployments.some((deployment) => !deployment.pricing?.priced))
    .map((model) => (model.orgId === null ? model.name : `${model.name} (organization ${model.orgId})`));
}
