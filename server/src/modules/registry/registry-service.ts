import type { LookupAddress } from 'node:dns';
import type { Kysely } from 'kysely';
import type { Config, ModelConfig, ProviderConfig } from '../../config/config.ts';
import type { ModelFile } from '../../config/file-schema.ts';
import { findRegistryProblems, type RegistryProblem } from '../../config/registry-config.ts';
import type { Database } from '../../db/database.ts';
import type { DatabaseSchema, ProviderCredentialRow } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { newTimeOrderedId } from '../../lib/ids.ts';
import { assertOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../../lib/outbound-url.ts';
import type { SecretBox } from '../../lib/secret-box.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { parseOrgSettings } from '../tenancy/index.ts';
import {
  deploymentRows,
  modelEntryOf,
  modelRowValues,
  presetNeedsKey,
  providerEntryOf,
  providerRowValues,
  resolveProviderEntry,
  toProviderConfig,
  toStoredModelConfig,
  type ProviderEntry,
} from './registry-entries.ts';
import {
  ownerOrgId,
  RegistryRepository,
  type RegistryOwner,
  type StoredModel,
  type StoredProvider,
} from './registry-repository.ts';

/** What every instance routes with, from the database: see `RegistryService.loadSnapshot`. */
export interface RegistrySnapshot {
  /** The registry epoch read before the entries: a change committed meanwhile shows as a newer epoch next poll. */
  readonly epoch: number;
  readonly providers: ProviderConfig[];
  readonly models: ModelConfig[];
  /** Organizations with routing settings (allowed providers, default models), by organization id. */
  readonly orgPolicies: Map<string, OrgRoutingPolicy>;
}

export interface OrgRoutingPolicy {
  readonly allowedProviders: readonly string[];
  readonly defaultModels: readonly string[];
}

/** One upstream key as the API shows it: never the key, only its id, weight and last four characters. */
export interface CredentialView {
  readonly id: string;
  readonly weight: number;
  readonly hint: string | null;
}

export interface ProviderView {
  /** Without keys (every credential's apiKey is undefined). */
  readonly config: ProviderConfig;
  readonly credentials: readonly CredentialView[];
  readonly createdAt: number | null;
  readonly updatedAt: number | null;
}

export interface ModelView {
  readonly config: ModelConfig;
  /** Said in every answer about the model: a model without a price is metered at zero cost. */
  readonly warnings: readonly string[];
  readonly createdAt: number | null;
  readonly updatedAt: number | null;
}

export interface CredentialInput {
  /** Default: `default` for a provider's first key, `key-<n>` after. */
  readonly id?: string | undefined;
  readonly apiKey: string;
  readonly weight?: number | undefined;
}

export interface ProviderInput {
  readonly entry: ProviderEntry;
  readonly credentials: readonly CredentialInput[];
}

/** A partial change of a provider; `null` goes back to the default (the preset's or type's base URL, no headers). */
export interface ProviderPatch {
  readonly type?: ProviderEntry['type'] | null;
  readonly preset?: string | null;
  readonly base_url?: string | null;
  readonly headers?: Readonly<Record<string, string>> | null;
  readonly options?: Readonly<Record<string, string>> | null;
  readonly max_connections?: number | null;
  readonly timeouts?: ProviderEntry['timeouts'] | null;
}

export interface CredentialPatch {
  readonly apiKey?: string | undefined;
  readonly weight?: number | undefined;
}

/** A partial change of a model: any field of the entry but its name; `deployments` replaces the whole list. */
export type ModelPatch = {
  readonly [Field in Exclude<keyof ModelFile, 'name'>]?: ModelFile[Field] | null;
};

export const unpricedWarning = 'no price set: requests are metered at zero cost';

export interface RegistryServiceOptions {
  readonly db: Database;
  /** The file's providers and models (read-only here) and the routing defaults. */
  readonly config: Pick<Config, 'providers' | 'models' | 'routing'>;
  readonly secretBox: SecretBox;
  readonly now?: () => number;
  /** The SSRF rules for base URLs organizations supply (platform admins may use any http(s) URL). */
  readonly outboundPolicy?: OutboundUrlPolicy;
  /** DNS for that check; tests replace it. */
  readonly resolveHost?: (host: string) => Promise<readonly LookupAddress[]>;
}

interface RegistryState {
  readonly providers: readonly ProviderConfig[];
  readonly models: readonly ModelConfig[];
}

type Operation = 'save' | 'delete';

/**
 * The model registry kept in the database: providers (with credential pools sealed at rest) and models (with their
 * deployments), platform-wide or owned by one organization. Every change runs in one transaction that first bumps the
 * `registry` epoch (which also makes concurrent changes take turns), then checks the whole registry — file entries and
 * stored ones together — with the same `findRegistryProblems` the file is loaded with, then writes with an audit event.
 * Entries of the YAML file are read-only here and cannot be shadowed: the file wins.
 */
export class RegistryService {
  readonly #repository: RegistryRepository;
  readonly #config: RegistryServiceOptions['config'];
  readonly #secretBox: SecretBox;
  readonly #now: () => number;
  readonly #outboundPolicy: OutboundUrlPolicy;
  readonly #resolveHost: RegistryServiceOptions['resolveHost'];

  constructor(options: RegistryServiceOptions) {
    this.#repository = new RegistryRepository(options.db);
    this.#config = options.config;
    this.#secretBox = options.secretBox;
    this.#now = options.now ?? Date.now;
    this.#outboundPolicy = options.outboundPolicy ?? { allowInsecureLoopback: false };
    this.#resolveHost = options.resolveHost;
  }

  // --- Runtime ---------------------------------------------------------------------------------------------------

  /** The registry epoch; cheap, polled by every instance. */
  readEpoch(): Promise<number> {
    return this.#repository.readEpoch();
  }

  /**
   * Every stored provider and model (credentials unsealed, `source: 'database'`, `orgId` set) and the organizations'
   * routing policies. Entries the file now defines too are left out: the file wins.
   */
  async loadSnapshot(): Promise<RegistrySnapshot> {
    const epoch = await this.#repository.readEpoch();
    const [stored, organizations] = await Promise.all([
      this.#repository.listAll(),
      this.#repository.listOrganizationSettings(),
    ]);
    const fileProviderIds = new Set(this.#config.providers.map((provider) => provider.id));
    const fileModelNames = this.#fileModelNames();
    // Entries of deleted organizations wait for the purge; nobody routes with them meanwhile.
    const liveOrgIds = new Set(organizations.map((organization) => organization.id));
    const live = (orgId: string | null) => orgId === null || liveOrgIds.has(orgId);
    const providers = stored.providers
      .filter((provider) => live(provider.row.org_id) && !fileProviderIds.has(provider.row.id))
      .map((provider) =>
        toProviderConfig(provider, this.#config.routing, (credential) => this.#unseal(provider, credential)),
      );
    const models = stored.models
      .filter((model) => live(model.row.org_id))
      .map((model) => this.#toModelConfig(model))
      .filter((model) => ![model.name, ...model.aliases].some((name) => fileModelNames.has(name)));
    const orgPolicies = new Map<string, OrgRoutingPolicy>();
    for (const organization of organizations) {
      const settings = parseOrgSettings(organization.settings);
      if (settings.allowedProviders.length > 0 || settings.defaultModels.length > 0) {
        orgPolicies.set(organization.id, {
          allowedProviders: settings.allowedProviders,
          defaultModels: settings.defaultModels,
        });
      }
    }
    return { epoch, providers, models, orgPolicies };
  }

  /** Provider ids an organization may name in `allowed_providers`: the file's, the platform's and its own. */
  async knownProviderIds(orgId: string): Promise<ReadonlySet<string>> {
    const stored = await this.#repository.listVisibleProviderIds(orgId);
    return new Set([...this.#config.providers.map((provider) => provider.id), ...stored]);
  }

  /** Bumps the registry epoch inside another module's transaction (organization settings that steer routing). */
  async bumpEpoch(executor: Kysely<DatabaseSchema>): Promise<void> {
    await new RegistryRepository(executor).bumpEpoch();
  }

  // --- Providers -------------------------------------------------------------------------------------------------

  /** The owner's providers by id; for the platform, the file's too (`source: 'file'`). */
  async listProviders(owner: RegistryOwner): Promise<ProviderView[]> {
    const orgId = ownerOrgId(owner);
    const { providers } = await this.#repository.listAll();
    const views = providers
      .filter((provider) => provider.row.org_id === orgId && !(orgId === null && this.#fileProvider(provider.row.id)))
      .map((provider) => this.#providerView(provider));
    if (orgId === null) views.push(...this.#config.providers.map((provider) => fileProviderView(provider)));
    return views.sort((left, right) => compareText(left.config.id, right.config.id));
  }

  async getProvider(owner: RegistryOwner, id: string): Promise<ProviderView> {
    const stored = await this.#repository.findProvider(owner, id);
    if (stored) return this.#providerView(stored);
    const fromFile = ownerOrgId(owner) === null ? this.#fileProvider(id) : undefined;
    if (fromFile) return fileProviderView(fromFile);
    throw providerNotFound(id);
  }

  async createProvider(owner: RegistryOwner, input: ProviderInput): Promise<ProviderView> {
    const orgId = ownerOrgId(owner);
    const { entry } = input;
    resolveProviderEntry(entry);
    if (presetNeedsKey(entry) && input.credentials.length === 0) {
      throw new AppError('invalid_request', `preset ${entry.preset} needs an API key: give api_key or credentials`, {
        param: 'api_key',
      });
    }
    await this.#checkBaseUrl(owner, entry.base_url);
    if (this.#fileProvider(entry.id)) throw fileManaged('provider', entry.id);
    checkCredentialPool(input.credentials, 'credentials');
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      if (await registry.findProvider(owner, entry.id)) {
        throw new AppError('conflict', `provider "${entry.id}" already exists`, { param: 'id' });
      }
      if (orgId !== null && (await registry.platformProviderExists(entry.id))) {
        throw new AppError('conflict', `"${entry.id}" is a platform provider's id; choose another`, { param: 'id' });
      }
      const pk = newTimeOrderedId(now);
      await registry.insertProvider({
        pk,
        org_id: orgId,
        id: entry.id,
        ...providerRowValues(entry),
        created_at: now,
        updated_at: now,
      });
      const ids = new Set<string>();
      for (const credential of input.credentials) {
        const id = credential.id ?? nextCredentialId(ids);
        if (ids.has(id)) {
          throw new AppError('invalid_request', `credential "${id}" is given twice`, { param: 'credentials' });
        }
        ids.add(id);
        await registry.insertCredential(this.#credentialRow(orgId, entry.id, pk, id, credential, now));
      }
      const created = await this.#mustFindProvider(registry, owner, entry.id);
      const view = this.#providerView(created);
      await this.#audit(executor, owner, 'provider.create', 'provider', entry.id, undefined, providerAudit(view), now);
      return view;
    });
  }

  async updateProvider(owner: RegistryOwner, id: string, patch: ProviderPatch): Promise<ProviderView> {
    if (ownerOrgId(owner) === null && this.#fileProvider(id)) throw fileManaged('provider', id);
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindProvider(registry, owner, id);
      const entry = applyProviderPatch(providerEntryOf(stored.row), patch);
      resolveProviderEntry(entry);
      if (patch.base_url !== undefined) await this.#checkBaseUrl(owner, entry.base_url);
      const before = this.#providerView(stored);
      await registry.updateProvider(stored.row.pk, { ...providerRowValues(entry), updated_at: now });
      const view = this.#providerView(await this.#mustFindProvider(registry, owner, id));
      await this.#audit(
        executor,
        owner,
        'provider.update',
        'provider',
        id,
        providerAudit(before),
        providerAudit(view),
        now,
      );
      return view;
    });
  }

  /** 409 while a model still deploys to it (delete or change those models first). */
  async deleteProvider(owner: RegistryOwner, id: string): Promise<void> {
    if (ownerOrgId(owner) === null && this.#fileProvider(id)) throw fileManaged('provider', id);
    const now = this.#now();
    await this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindProvider(registry, owner, id);
      const state = await this.#readState(registry);
      this.#checkChange(
        state,
        {
          providers: state.providers.filter((provider) => !sameProvider(provider, stored)),
          models: state.models,
        },
        undefined,
        'delete',
      );
      const before = this.#providerView(stored);
      await registry.deleteProvider(stored.row.pk);
      await this.#audit(executor, owner, 'provider.delete', 'provider', id, providerAudit(before), undefined, now);
    });
  }

  // --- Credentials -----------------------------------------------------------------------------------------------

  async listCredentials(owner: RegistryOwner, providerId: string): Promise<CredentialView[]> {
    return [...(await this.getProvider(owner, providerId)).credentials];
  }

  async addCredential(owner: RegistryOwner, providerId: string, input: CredentialInput): Promise<CredentialView> {
    this.#refuseFileProvider(owner, providerId);
    const orgId = ownerOrgId(owner);
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindProvider(registry, owner, providerId);
      const ids = new Set(stored.credentials.map((credential) => credential.id));
      const id = input.id ?? nextCredentialId(ids);
      if (ids.has(id)) {
        throw new AppError('conflict', `credential "${id}" already exists`, { param: 'id' });
      }
      checkCredentialPool([...stored.credentials, { weight: input.weight ?? 1 }], 'weight');
      await registry.insertCredential(this.#credentialRow(orgId, providerId, stored.row.pk, id, input, now));
      const view = credentialView(await this.#mustFindCredential(registry, owner, providerId, id));
      await this.#audit(executor, owner, 'provider.credential_add', 'provider', providerId, undefined, view, now);
      return view;
    });
  }

  async updateCredential(
    owner: RegistryOwner,
    providerId: string,
    credentialId: string,
    patch: CredentialPatch,
  ): Promise<CredentialView> {
    this.#refuseFileProvider(owner, providerId);
    const orgId = ownerOrgId(owner);
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindProvider(registry, owner, providerId);
      const current = findCredential(stored, providerId, credentialId);
      const weight = patch.weight ?? current.weight;
      checkCredentialPool(
        stored.credentials.map((credential) => (credential === current ? { weight } : credential)),
        'weight',
      );
      await registry.updateCredential(current.pk, {
        weight,
        ...(patch.apiKey === undefined
          ? {}
          : {
              api_key_sealed: this.#secretBox.encrypt(patch.apiKey, credentialContext(orgId, providerId, credentialId)),
              hint: hintOf(patch.apiKey),
            }),
        updated_at: now,
      });
      const view = credentialView(await this.#mustFindCredential(registry, owner, providerId, credentialId));
      await this.#audit(
        executor,
        owner,
        'provider.credential_update',
        'provider',
        providerId,
        { ...credentialView(current), key_changed: false },
        { ...view, key_changed: patch.apiKey !== undefined },
        now,
      );
      return view;
    });
  }

  /** The provider keeps working without keys once its last one is gone (local servers need none). */
  async deleteCredential(owner: RegistryOwner, providerId: string, credentialId: string): Promise<void> {
    this.#refuseFileProvider(owner, providerId);
    const now = this.#now();
    await this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindProvider(registry, owner, providerId);
      const current = findCredential(stored, providerId, credentialId);
      const rest = stored.credentials.filter((credential) => credential !== current);
      if (rest.length > 0 && rest.every((credential) => credential.weight === 0)) {
        throw new AppError(
          'conflict',
          `the weights of the other credentials of "${providerId}" sum to zero: give one a weight first`,
        );
      }
      await registry.deleteCredential(current.pk);
      await this.#audit(
        executor,
        owner,
        'provider.credential_delete',
        'provider',
        providerId,
        credentialView(current),
        undefined,
        now,
      );
    });
  }

  // --- Models ----------------------------------------------------------------------------------------------------

  /** The owner's models by name; for the platform, the file's too (`source: 'file'`). */
  async listModels(owner: RegistryOwner): Promise<ModelView[]> {
    const orgId = ownerOrgId(owner);
    const { models } = await this.#repository.listAll();
    const views = models
      .filter((model) => model.row.org_id === orgId && !(orgId === null && this.#fileModel(model.row.name)))
      .map((model) => this.#modelView(model));
    if (orgId === null) views.push(...this.#config.models.map((model) => fileModelView(model)));
    return views.sort((left, right) => compareText(left.config.name, right.config.name));
  }

  async getModel(owner: RegistryOwner, name: string): Promise<ModelView> {
    const stored = await this.#repository.findModel(owner, name);
    if (stored) return this.#modelView(stored);
    const fromFile = ownerOrgId(owner) === null ? this.#fileModel(name) : undefined;
    if (fromFile) return fileModelView(fromFile);
    throw modelNotFound(name);
  }

  async createModel(owner: RegistryOwner, entry: ModelFile): Promise<ModelView> {
    const orgId = ownerOrgId(owner);
    const config = toStoredModelConfig(entry, orgId, this.#config.routing);
    this.#refuseFileModelNames(config);
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      if (await registry.findModel(owner, entry.name)) {
        throw new AppError('conflict', `model "${entry.name}" already exists`, { param: 'name' });
      }
      const state = await this.#readState(registry);
      this.#checkChange(state, { providers: state.providers, models: [...state.models, config] }, config, 'save');
      const pk = newTimeOrderedId(now);
      await registry.insertModel(
        { pk, org_id: orgId, ...modelRowValues(entry), created_at: now, updated_at: now },
        deploymentRows(entry, pk, () => newTimeOrderedId(now)),
      );
      const view = this.#modelView(await this.#mustFindModel(registry, owner, entry.name));
      await this.#audit(executor, owner, 'model.create', 'model', entry.name, undefined, entry, now);
      return view;
    });
  }

  async updateModel(owner: RegistryOwner, name: string, patch: ModelPatch): Promise<ModelView> {
    const orgId = ownerOrgId(owner);
    if (orgId === null && this.#fileModel(name)) throw fileManaged('model', name);
    const now = this.#now();
    return this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindModel(registry, owner, name);
      const before = modelEntryOf(stored);
      const entry = applyModelPatch(before, patch);
      const config = toStoredModelConfig(entry, orgId, this.#config.routing);
      this.#refuseFileModelNames(config);
      const state = await this.#readState(registry);
      const others = state.models.filter((model) => !(model.orgId === orgId && model.name === name));
      this.#checkChange(state, { providers: state.providers, models: [...others, config] }, config, 'save');
      await registry.updateModel(
        stored.row.pk,
        { ...modelRowValues(entry), updated_at: now },
        patch.deployments === undefined ? undefined : deploymentRows(entry, stored.row.pk, () => newTimeOrderedId(now)),
      );
      const view = this.#modelView(await this.#mustFindModel(registry, owner, name));
      await this.#audit(executor, owner, 'model.update', 'model', name, before, entry, now);
      return view;
    });
  }

  /** 409 while another model falls back to it. */
  async deleteModel(owner: RegistryOwner, name: string): Promise<void> {
    const orgId = ownerOrgId(owner);
    if (orgId === null && this.#fileModel(name)) throw fileManaged('model', name);
    const now = this.#now();
    await this.#repository.transaction(async (registry, executor) => {
      await registry.bumpEpoch();
      const stored = await this.#mustFindModel(registry, owner, name);
      const state = await this.#readState(registry);
      const rest = state.models.filter((model) => !(model.orgId === orgId && model.name === name));
      this.#checkChange(state, { providers: state.providers, models: rest }, undefined, 'delete');
      await registry.deleteModel(stored.row.pk);
      await this.#audit(executor, owner, 'model.delete', 'model', name, modelEntryOf(stored), undefined, now);
    });
  }

  // --- Validation ------------------------------------------------------------------------------------------------

  async #readState(registry: RegistryRepository): Promise<RegistryState> {
    const stored = await registry.listAll();
    return {
      providers: stored.providers.map((provider) => toProviderConfig(provider, this.#config.routing, () => undefined)),
      models: stored.models.map((model) => this.#toModelConfig(model)),
    };
  }

  /**
   * Checks the whole registry after a change, file entries included, and refuses the change for any problem it
   * introduces (problems that existed before, say after the file changed, are not this change's fault). A problem in
   * the entry being saved is a 400 naming its field (409 for a name taken or no deployment left); one the change
   * causes elsewhere — a model left without its provider or fallback — is a 409.
   */
  #checkChange(before: RegistryState, after: RegistryState, focus: ModelConfig | undefined, operation: Operation) {
    const pathOf = (model: ModelConfig): string =>
      model === focus ? '' : `models[${model.orgId === null ? '' : `${model.orgId}/`}${model.name}]`;
    const problemsOf = (state: RegistryState): RegistryProblem[] =>
      findRegistryProblems(
        [...this.#config.providers, ...state.providers],
        [...this.#config.models, ...state.models],
        pathOf,
      );
    const known = new Set(problemsOf(before).map((problem) => `${problem.path}\u0000${problem.message}`));
    const introduced = problemsOf(after).filter((problem) => !known.has(`${problem.path}\u0000${problem.message}`));
    const cycle = introduced.find((problem) => problem.message.startsWith('fallbacks form a cycle'));
    if (cycle && operation === 'save') {
      throw new AppError('invalid_request', cycle.message, { param: 'fallbacks' });
    }
    const own = introduced.find((problem) => problem.path.startsWith('.'));
    if (own) {
      const param = own.path.slice(1);
      throw new AppError(own.kind === 'invalid' ? 'invalid_request' : 'conflict', `${param}: ${own.message}`, {
        param,
      });
    }
    const elsewhere = introduced[0];
    if (elsewhere) {
      throw new AppError('conflict', `the change would break ${elsewhere.path}: ${elsewhere.message}`);
    }
  }

  async #checkBaseUrl(owner: RegistryOwner, baseUrl: string | undefined): Promise<void> {
    if (baseUrl === undefined) return;
    if (ownerOrgId(owner) === null) {
      if (!URL.canParse(baseUrl)) {
        throw new AppError('invalid_request', 'base_url must be an absolute http(s) URL', { param: 'base_url' });
      }
      return;
    }
    try {
      await assertOutboundUrl(baseUrl, this.#outboundPolicy, this.#resolveHost);
    } catch (error) {
      if (error instanceof OutboundUrlError) {
        throw new AppError('invalid_request', `base_url: ${error.message}`, { param: 'base_url' });
      }
      throw error;
    }
  }

  #refuseFileModelNames(config: ModelConfig): void {
    const fileNames = this.#fileModelNames();
    const taken = [config.name, ...config.aliases].find((name) => fileNames.has(name));
    if (taken !== undefined) throw fileManaged('model', taken);
  }

  #refuseFileProvider(owner: RegistryOwner, providerId: string): void {
    if (ownerOrgId(owner) === null && this.#fileProvider(providerId)) throw fileManaged('provider', providerId);
  }

  #fileProvider(id: string): ProviderConfig | undefined {
    return this.#config.providers.find((provider) => provider.id === id);
  }

  #fileModel(name: string): ModelConfig | undefined {
    return this.#config.models.find((model) => model.name === name);
  }

  #fileModelNames(): Set<string> {
    return new Set(this.#config.models.flatMap((model) => [model.name, ...model.aliases]));
  }

  // --- Rows, views, audit ----------------------------------------------------------------------------------------

  #toModelConfig(stored: StoredModel): ModelConfig {
    return toStoredModelConfig(modelEntryOf(stored), stored.row.org_id, this.#config.routing);
  }

  #providerView(stored: StoredProvider): ProviderView {
    return {
      config: toProviderConfig(stored, this.#config.routing, () => undefined),
      credentials: stored.credentials.map(credentialView),
      createdAt: stored.row.created_at,
      updatedAt: stored.row.updated_at,
    };
  }

  #modelView(stored: StoredModel): ModelView {
    const config = this.#toModelConfig(stored);
    return { config, warnings: warningsOf(config), createdAt: stored.row.created_at, updatedAt: stored.row.updated_at };
  }

  #credentialRow(
    orgId: string | null,
    providerId: string,
    providerPk: string,
    id: string,
    input: CredentialInput,
    now: number,
  ) {
    return {
      pk: newTimeOrderedId(now),
      provider_pk: providerPk,
      id,
      api_key_sealed: this.#secretBox.encrypt(input.apiKey, credentialContext(orgId, providerId, id)),
      hint: hintOf(input.apiKey),
      weight: input.weight ?? 1,
      created_at: now,
      updated_at: now,
    };
  }

  #unseal(provider: StoredProvider, credential: ProviderCredentialRow): string | undefined {
    if (credential.api_key_sealed === null) return undefined;
    try {
      return this.#secretBox.decrypt(
        credential.api_key_sealed,
        credentialContext(provider.row.org_id, provider.row.id, credential.id),
      );
    } catch {
      // Sealed under another AIHUB_SECRET_KEY, or moved between rows: unusable, so sent without a key.
      return undefined;
    }
  }

  async #mustFindProvider(registry: RegistryRepository, owner: RegistryOwner, id: string): Promise<StoredProvider> {
    const stored = await registry.findProvider(owner, id);
    if (!stored) throw providerNotFound(id);
    return stored;
  }

  async #mustFindCredential(
    registry: RegistryRepository,
    owner: RegistryOwner,
    providerId: string,
    credentialId: string,
  ): Promise<ProviderCredentialRow> {
    return findCredential(await this.#mustFindProvider(registry, owner, providerId), providerId, credentialId);
  }

  async #mustFindModel(registry: RegistryRepository, owner: RegistryOwner, name: string): Promise<StoredModel> {
    const stored = await registry.findModel(owner, name);
    if (!stored) throw modelNotFound(name);
    return stored;
  }

  async #audit(
    executor: Kysely<DatabaseSchema>,
    owner: RegistryOwner,
    action: string,
    targetType: string,
    targetId: string,
    before: unknown,
    after: unknown,
    now: number,
  ): Promise<void> {
    await recordAuditEvent(
      executor,
      {
        orgId: ownerOrgId(owner),
        actor: owner.actor,
        action,
        targetType,
        targetId,
        ...(before === undefined ? {} : { before }),
        ...(after === undefined ? {} : { after }),
      },
      now,
    );
  }
}

/** Associated data binding a sealed key to its owner, provider and credential: a value moved to another row fails. */
export function credentialContext(orgId: string | null, providerId: string, credentialId: string): string {
  return `registry-credential:${orgId ?? 'platform'}:${providerId}:${credentialId}`;
}

export function warningsOf(config: ModelConfig): string[] {
  const priced = config.pricing.priced || config.deployments.some((deployment) => deployment.pricing?.priced);
  return priced ? [] : [unpricedWarning];
}

function fileProviderView(provider: ProviderConfig): ProviderView {
  const config: ProviderConfig = {
    ...provider,
    credentials: provider.credentials.map((credential) => ({ ...credential, apiKey: undefined })),
  };
  return {
    config,
    credentials: provider.credentials.map((credential) => ({
      id: credential.id,
      weight: credential.weight,
      hint: null,
    })),
    createdAt: null,
    updatedAt: null,
  };
}

function fileModelView(model: ModelConfig): ModelView {
  return { config: model, warnings: warningsOf(model), createdAt: null, updatedAt: null };
}

function credentialView(row: ProviderCredentialRow): CredentialView {
  return { id: row.id, weight: row.weight, hint: row.hint };
}

function findCredential(stored: StoredProvider, providerId: string, credentialId: string): ProviderCredentialRow {
  const found = stored.credentials.find((credential) => credential.id === credentialId);
  if (!found) throw new AppError('not_found', `provider "${providerId}" has no credential "${credentialId}"`);
  return found;
}

function checkCredentialPool(credentials: readonly { weight?: number | undefined }[], param: string): void {
  if (credentials.length > 0 && credentials.every((credential) => (credential.weight ?? 1) === 0)) {
    throw new AppError('invalid_request', 'the credential weights sum to zero, so no credential could be used', {
      param,
    });
  }
}

function nextCredentialId(taken: ReadonlySet<string>): string {
  if (!taken.has('default')) return 'default';
  let number = taken.size + 1;
  while (taken.has(`key-${number}`)) number += 1;
  return `key-${number}`;
}

/** The last four characters of a key long enough that they say nothing useful about the rest. */
function hintOf(apiKey: string): string | null {
  return apiKey.length >= 16 ? apiKey.slice(-4) : null;
}

function sameProvider(provider: ProviderConfig, stored: StoredProvider): boolean {
  return provider.id === stored.row.id && provider.orgId === stored.row.org_id;
}

function applyProviderPatch(entry: ProviderEntry, patch: ProviderPatch): ProviderEntry {
  const pick = <Field extends keyof ProviderPatch>(field: Field) =>
    patch[field] === undefined ? entry[field] : (patch[field] ?? undefined);
  return {
    id: entry.id,
    type: pick('type'),
    preset: pick('preset'),
    base_url: pick('base_url'),
    headers: pick('headers'),
    options: pick('options'),
    max_connections: pick('max_connections'),
    timeouts: pick('timeouts'),
  };
}

function applyModelPatch(entry: ModelFile, patch: ModelPatch): ModelFile {
  const next: Record<string, unknown> = { ...entry };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return next as unknown as ModelFile;
}

/** What the audit log keeps of a provider: header names but not their values, credentials without keys. */
function providerAudit(view: ProviderView): Record<string, unknown> {
  const { config } = view;
  return {
    id: config.id,
    type: config.type,
    preset: config.preset ?? null,
    base_url: config.baseUrl,
    header_names: Object.keys(config.headers),
    options: config.options,
    max_connections: config.maxConnections,
    timeouts: config.timeouts,
    credentials: view.credentials,
  };
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function fileManaged(kind: 'provider' | 'model', name: string): AppError {
  return new AppError(
    'conflict',
    `${kind} "${name}" is defined in the configuration file, which manages it: change it there (the file wins over the API)`,
  );
}

function providerNotFound(id: string): AppError {
  return new AppError('not_found', `provider "${id}" not found`);
}

function modelNotFound(name: string): AppError {
  return new AppError('not_found', `model "${name}" not found`);
}
