import type { Config, ModelConfig, ModelPricing, ProviderConfig } from '../config/config.ts';
import { adapterFor } from '../providers/registry.ts';
import type { ProviderAdapter, ProviderTarget } from '../providers/spec/provider-adapter.ts';

export interface ProviderRuntime {
  readonly config: ProviderConfig;
  readonly adapter: ProviderAdapter;
}

export interface Deployment {
  /** Stable name of the deployment: `<provider id>/<upstream model>` (with the owning organization for org providers). */
  readonly id: string;
  readonly provider: ProviderRuntime;
  readonly upstreamModel: string;
  readonly weight: number;
  /** What the adapter needs to reach this deployment, built once. */
  readonly target: ProviderTarget;
  /** The deployment's own prices, or the model's when it sets none. */
  readonly pricing: ModelPricing;
}

export interface CatalogModel {
  readonly name: string;
  /** The name and every alias: an allowlist naming any of them admits the model. */
  readonly names: readonly string[];
  readonly kind: ModelConfig['kind'];
  readonly pricing: ModelPricing;
  readonly deployments: readonly Deployment[];
  readonly totalWeight: number;
  readonly createdAt: number;
}

/** Public model names and aliases → deployments, built once from config; lookups are one Map read. */
export class ModelCatalog {
  readonly #byName = new Map<string, CatalogModel>();
  readonly #models: CatalogModel[] = [];

  constructor(config: Pick<Config, 'providers' | 'models'>, now = Date.now()) {
    const providers = new Map(
      config.providers.map((provider) => [provider.id, { config: provider, adapter: adapterFor(provider) }]),
    );
    const createdAt = Math.floor(now / 1000);
    for (const model of config.models) {
      const deployments = model.deployments.map((deployment) => {
        const provider = providers.get(deployment.providerId);
        if (!provider) throw new Error(`model ${model.name}: unknown provider ${deployment.providerId}`);
        const target: ProviderTarget = {
          baseUrl: provider.config.baseUrl,
          apiKey: provider.config.apiKey,
          headers: provider.config.headers,
          options: provider.config.options,
          upstreamModel: deployment.upstreamModel,
        };
        return {
          id: `${provider.config.id}/${deployment.upstreamModel}`,
          provider,
          upstreamModel: deployment.upstreamModel,
          weight: deployment.weight,
          target,
          pricing: deployment.pricing ?? model.pricing,
        };
      });
      const entry: CatalogModel = {
        name: model.name,
        names: [model.name, ...model.aliases],
        kind: model.kind,
        pricing: model.pricing,
        deployments,
        totalWeight: deployments.reduce((sum, deployment) => sum + deployment.weight, 0),
        createdAt,
      };
      this.#models.push(entry);
      for (const name of entry.names) this.#byName.set(name, entry);
    }
  }

  resolve(name: string): CatalogModel | undefined {
    return this.#byName.get(name);
  }

  list(): readonly CatalogModel[] {
    return this.#models;
  }
}

/** Weighted random choice among a model's deployments (weight 0 takes no traffic unless all are 0). */
export function pickDeployment(model: CatalogModel, random: () => number = Math.random): Deployment {
  const deployments = model.deployments;
  if (deployments.length === 1 || model.totalWeight === 0) return deployments[0] as Deployment;
  let remaining = random() * model.totalWeight;
  for (const deployment of deployments) {
    remaining -= deployment.weight;
    if (remaining < 0) return deployment;
  }
  return deployments[deployments.length - 1] as Deployment;
}
