import { type Insertable, type Kysely, type Updateable } from 'kysely';
import type {
  DatabaseSchema,
  ModelDeploymentRow,
  ModelRow,
  ProviderCredentialRow,
  ProviderRow,
} from '../../db/schema.ts';
import { CacheEpochRepository, type OrgScope, type PlatformScope } from '../shared/index.ts';

/** The `cache_epochs` row every instance polls to learn that the registry (or an organization's routing) changed. */
export const registryEpochName = 'registry';

/** Who an entry belongs to: the platform (a platform admin's scope) or one organization (an org scope). */
export type RegistryOwner = OrgScope | PlatformScope;

/** The owning organization of a scope, or null for the platform. */
export function ownerOrgId(owner: RegistryOwner): string | null {
  return 'orgId' in owner ? owner.orgId : null;
}

export interface StoredProvider {
  readonly row: ProviderRow;
  readonly credentials: readonly ProviderCredentialRow[];
}

export interface StoredModel {
  readonly row: ModelRow;
  readonly deployments: readonly ModelDeploymentRow[];
}

/** Organizations whose routing settings are set, as stored JSON (parsed by the service). */
export interface OrganizationSettingsRow {
  readonly id: string;
  readonly settings: string;
}

/**
 * SQL for the model registry kept in the database. Writes and owner-bound reads take the caller's scope (an OrgScope
 * or a platform admin's PlatformScope), so an organization's entries cannot be reached from another; `listAll` and the
 * epoch are for the runtime snapshot every instance loads, which spans every owner by nature.
 */
export class RegistryRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(db: Kysely<DatabaseSchema>) {
    this.#db = db;
  }

  /** Runs `work` in one transaction with a repository bound to it; `executor` is for the audit event. */
  transaction<T>(work: (registry: RegistryRepository, executor: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((transaction) => work(new RegistryRepository(transaction), transaction));
  }

  /**
   * Bumps the registry epoch. Called first in every registry change: the row stays locked until the transaction ends,
   * so concurrent changes validate one after another against what the previous one committed.
   */
  bumpEpoch(): Promise<void> {
    return new CacheEpochRepository(this.#db, registryEpochName).bump();
  }

  readEpoch(): Promise<number> {
    return new CacheEpochRepository(this.#db, registryEpochName).read();
  }

  /** Every stored provider and model of every owner; credentials by id, deployments in their order. */
  async listAll(): Promise<{ providers: StoredProvider[]; models: StoredModel[] }> {
    const [providers, credentials, models, deployments] = await Promise.all([
      this.#db.selectFrom('providers').selectAll().orderBy('org_id').orderBy('id').execute(),
      this.#db.selectFrom('provider_credentials').selectAll().orderBy('provider_pk').orderBy('id').execute(),
      this.#db.selectFrom('models').selectAll().orderBy('org_id').orderBy('name').execute(),
      this.#db.selectFrom('model_deployments').selectAll().orderBy('model_pk').orderBy('position').execute(),
    ]);
    return {
      providers: providers.map((row) => ({
        row,
        credentials: credentials.filter((credential) => credential.provider_pk === row.pk),
      })),
      models: models.map((row) => ({
        row,
        deployments: deployments.filter((deployment) => deployment.model_pk === row.pk),
      })),
    };
  }

  /** Settings of live organizations, for their routing policies. */
  listOrganizationSettings(): Promise<OrganizationSettingsRow[]> {
    return this.#db
      .selectFrom('organizations')
      .select(['id', 'settings'])
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
  }

  /** Ids of the providers one organization may route to: the platform's and its own. */
  async listVisibleProviderIds(orgId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('providers')
      .select('id')
      .where((eb) => eb.or([eb('org_id', 'is', null), eb('org_id', '=', orgId)]))
      .execute();
    return rows.map((row) => row.id);
  }

  async findProvider(owner: RegistryOwner, id: string): Promise<StoredProvider | undefined> {
    const orgId = ownerOrgId(owner);
    const row = await this.#db
      .selectFrom('providers')
      .selectAll()
      .where((eb) => (orgId === null ? eb('org_id', 'is', null) : eb('org_id', '=', orgId)))
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const credentials = await this.#db
      .selectFrom('provider_credentials')
      .selectAll()
      .where('provider_pk', '=', row.pk)
      .orderBy('id')
      .execute();
    return { row, credentials };
  }

  /** Whether a platform provider has this id (an organization's provider may not take it). */
  async platformProviderExists(id: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('providers')
      .select('pk')
      .where('org_id', 'is', null)
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  async insertProvider(row: Insertable<DatabaseSchema['providers']>): Promise<void> {
    await this.#db.insertInto('providers').values(row).execute();
  }

  async updateProvider(pk: string, changes: Updateable<DatabaseSchema['providers']>): Promise<void> {
    await this.#db.updateTable('providers').set(changes).where('pk', '=', pk).execute();
  }

  /** Deletes the provider and, with it, its credentials. */
  async deleteProvider(pk: string): Promise<void> {
    await this.#db.deleteFrom('provider_credentials').where('provider_pk', '=', pk).execute();
    await this.#db.deleteFrom('providers').where('pk', '=', pk).execute();
  }

  async insertCredential(row: Insertable<DatabaseSchema['provider_credentials']>): Promise<void> {
    await this.#db.insertInto('provider_credentials').values(row).execute();
  }

  async updateCredential(pk: string, changes: Updateable<DatabaseSchema['provider_credentials']>): Promise<void> {
    await this.#db.updateTable('provider_credentials').set(changes).where('pk', '=', pk).execute();
  }

  async deleteCredential(pk: string): Promise<void> {
    await this.#db.deleteFrom('provider_credentials').where('pk', '=', pk).execute();
  }

  async findModel(owner: RegistryOwner, name: string): Promise<StoredModel | undefined> {
    const orgId = ownerOrgId(owner);
    const row = await this.#db
      .selectFrom('models')
      .selectAll()
      .where((eb) => (orgId === null ? eb('org_id', 'is', null) : eb('org_id', '=', orgId)))
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    const deployments = await this.#db
      .selectFrom('model_deployments')
      .selectAll()
      .where('model_pk', '=', row.pk)
      .orderBy('position')
      .execute();
    return { row, deployments };
  }

  async insertModel(
    row: Insertable<DatabaseSchema['models']>,
    deployments: readonly Insertable<DatabaseSchema['model_deployments']>[],
  ): Promise<void> {
    await this.#db.insertInto('models').values(row).execute();
    if (deployments.length > 0)
      await this.#db
        .insertInto('model_deployments')
        .values([...deployments])
        .execute();
  }

  /** Replaces the model's settings and, when given, its whole list of deployments. */
  async updateModel(
    pk: string,
    changes: Updateable<DatabaseSchema['models']>,
    deployments: readonly Insertable<DatabaseSchema['model_deployments']>[] | undefined,
  ): Promise<void> {
    await this.#db.updateTable('models').set(changes).where('pk', '=', pk).execute();
    if (deployments === undefined) return;
    await this.#db.deleteFrom('model_deployments').where('model_pk', '=', pk).execute();
    if (deployments.length > 0)
      await this.#db
        .insertInto('model_deployments')
        .values([...deployments])
        .execute();
  }

  /** Deletes the model and its deployments. */
  async deleteModel(pk: string): Promise<void> {
    await this.#db.deleteFrom('model_deployments').where('model_pk', '=', pk).execute();
    await this.#db.deleteFrom('models').where('pk', '=', pk).execute();
  }
}
