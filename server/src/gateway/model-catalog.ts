import type {
  ModelConfig,
  ModelPricing,
  ProviderConfig,
  RetryPolicy,
  RoutingStrategy,
  UpstreamTimeouts,
} from '../config/config.ts';
import { adapterFor } from '../providers/registry.ts';
import type { ProviderAdapter, ProviderTarget } from '../providers/spec/provider-adapter.ts';

export interface ProviderRuntime {
  readonly config: ProviderConfig;
  readonly adapter: ProviderAdapter;
}

/** One upstream key of a deployment: its own breaker and upstream rate limit live under `key`. */
export interface DeploymentCredential {
  /** `<deployment id>#<credential id>`: names the breaker, the stats and the upstream limit of this key. */
  readonly key: string;
  readonly credentialId: string;
  readonly weight: number;
  /** What the adapter needs to reach this deployment with this key, built once. */
  readonly target: ProviderTarget;
}

export interface Deployment {
  /** Stable name: `<provider id>/<upstream model>` (prefixed by the organization for an organization's provider). */
  readonly id: string;
  readonly provider: ProviderRuntime;
  readonly upstreamModel: string;
  readonly weight: number;
  /** Tier: 1 first. */
  readonly priority: number;
  readonly credentials: readonly DeploymentCredential[];
  /** The deployment's own prices, or the model's when it sets none. */
  readonly pricing: ModelPricing;
  readonly timeouts: UpstreamTimeouts;
}

export interface CatalogModel {
  readonly name: string;
  /** The name and every alias: an allowlist naming any of them admits the model. */
  readonly names: readonly string[];
  readonly kind: ModelConfig['kind'];
  readonly pricing: ModelPricing;
  readonly deployments: readonly Deployment[];
  /** Deployments grouped by priority, lowest tier first. */
  readonly tiers: readonly (readonly Deployment[])[];
  readonly strategy: RoutingStrategy;
  readonly retry: RetryPolicy;
  readonly fallbacks: ModelConfig['fallbacks'];
  readonly orgId: string | null;
  readonly createdAt: number;
}

/** What an organization's settings change about routing. */
export interface OrgRoutingPolicy {
  /** Provider ids its keys may reach (its own providers always); null: every provider. */
  readonly allowedProviders: ReadonlySet<string> | null;
  /** Models listed first in `/v1/models`, and used when a request names no model. */
  readonly defaultModels: readonly string[];
}

export interface RegistryContents {
  readonly providers: readonly ProviderConfig[];
  readonly models: readonly ModelConfig[];
  readonly orgPolicies?: ReadonlyMap<string, { allowedProviders: readonly string[]; defaultModels: readonly string[] }>;
}

const openPolicy: OrgRoutingPolicy = { allowedProviders: null, defaultModels: [] };

/**
 * Public model names and aliases → deployments, built from the registry (file and database) into one immutable table;
 * a lookup is one or two Map reads. A registry change builds a new table and swaps it in whole, so a request keeps
 * the table it started with.
 */
export class ModelCatalog {
  readonly #platform = new Map<string, CatalogModel>();
  readonly #byOrg = new Map<string, Map<string, CatalogModel>>();
  readonly #models: CatalogModel[] = [];
  readonly #policies = new Map<string, OrgRoutingPolicy>();
  readonly #createdAt: number;

  constructor(contents: RegistryContents, now = Date.now()) {
    this.#createdAt = Math.floor(now / 1000);
    const providerKey = (orgId: string | null, id: string): string => `${orgId ?? ''}\u0000${id}`;
    const providers = new Map<string, ProviderRuntime>();
    for (const provider of contents.providers) {
      providers.set(providerKey(provider.orgId, provider.id), { config: provider, adapter: adapterFor(provider) });
    }
    for (const model of contents.models) {
      const deployments = model.deployments.map((deployment, index): Deployment => {
        const provider =
          (model.orgId === null ? undefined : providers.get(providerKey(model.orgId, deployment.providerId))) ??
          providers.get(providerKey(null, deployment.providerId));
        if (!provider) throw new Error(`model ${model.name}: unknown provider ${deployment.providerId}`);
        const config = provider.config;
        const scope = config.orgId === null ? '' : `${config.orgId}:`;
        const duplicate = model.deployments.some(
          (other, otherIndex) =>
            otherIndex < index &&
            other.providerId === deployment.providerId &&
            other.upstreamModel === deployment.upstreamModel,
        );
        const id = `${scope}${config.id}/${deployment.upstreamModel}${duplicate ? `~${index}` : ''}`;
        const credentials = config.credentials.map((credential): DeploymentCredential => ({
          key: `${id}#${credential.id}`,
          credentialId: credential.id,
          weight: credential.weight,
          target: {
            baseUrl: config.baseUrl,
            apiKey: credential.apiKey,
            headers: config.headers,
            options: config.options,
            upstreamModel: deployment.upstreamModel,
          },
        }));
        return {
          id,
          provider,
          upstreamModel: deployment.upstreamModel,
          weight: deployment.weight,
          priority: deployment.priority,
          credentials,
          pricing: deployment.pricing ?? model.pricing,
          timeouts: { ...config.timeouts, ...deployment.timeouts },
        };
      });
      const priorities = [...new Set(deployments.map((deployment) => deployment.priority))].sort((a, b) => a - b);
      const entry: CatalogModel = {
        name: model.name,
        names: [model.name, ...model.aliases],
        kind: model.kind,
        pricing: model.pricing,
        deployments,
        tiers: priorities.map((priority) => deployments.filter((deployment) => deployment.priority === priority)),
        strategy: model.strategy,
        retry: model.retry,
        fallbacks: model.fallbacks,
        orgId: model.orgId,
        createdAt: this.#createdAt,
      };
      this.#models.push(entry);
      let names = this.#platform;
      if (model.orgId !== null) {
        names = this.#byOrg.get(model.orgId) ?? new Map<string, CatalogModel>();
        this.#byOrg.set(model.orgId, names);
      }
      for (const name of entry.names) names.set(name, entry);
    }
    for (const [orgId, policy] of contents.orgPolicies ?? []) {
      this.#policies.set(orgId, {
        allowedProviders: policy.allowedProviders.length > 0 ? new Set(policy.allowedProviders) : null,
        defaultModels: policy.defaultModels,
      });
    }
  }

  /** The model a key of `orgId` reaches by `name`: the organization's own first, then the platform's. */
  resolve(name: string, orgId: string | null = null): CatalogModel | undefined {
    if (orgId !== null) {
      const own = this.#byOrg.get(orgId)?.get(name);
      if (own) return own;
    }
    return this.#platform.get(name);
  }

  /** Models visible to keys of `orgId`: its own, then the platform's not shadowed by one of its own names. */
  list(orgId: string | null = null): CatalogModel[] {
    const own = orgId === null ? undefined : this.#byOrg.get(orgId);
    return this.#models.filter((model) => {
      if (model.orgId === null) return own === undefined || !model.names.some((name) => own.has(name));
      return model.orgId === orgId;
    });
  }

  /** Every model of every owner (admin views). */
  all(): readonly CatalogModel[] {
    return this.#models;
  }

  policyFor(orgId: string | null): OrgRoutingPolicy {
    return orgId === null ? openPolicy : (this.#policies.get(orgId) ?? openPolicy);
  }
}

/** Whether an organization's settings let its keys reach a deployment (its own providers always). */
export function isDeploymentAllowed(deployment: Deployment, policy: OrgRoutingPolicy): boolean {
  const allowed = policy.allowedProviders;
  if (allowed === null) return true;
  const provider = deployment.provider.config;
  return provider.orgId !== null || allowed.has(provider.id);
}
