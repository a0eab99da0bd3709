import type { ProviderConfig } from '../../config/config.ts';
import type { ProviderRow } from '../../db/schema.ts';
import type { SecretBox } from '../../lib/secret-box.ts';
import type { ProviderRepository } from './provider-repository.ts';

export interface StoredProviderInput {
  id: string;
  type: ProviderConfig['type'];
  baseUrl: string;
  apiKey: string | undefined;
  headers?: Record<string, string>;
}

/** What listings show: never the credential, only whether one is set. */
export interface StoredProviderSummary {
  id: string;
  type: string;
  baseUrl: string;
  hasApiKey: boolean;
  updatedAt: number;
}

/**
 * Providers kept in the database (added at run time rather than in the YAML file). Credentials are sealed with
 * AES-256-GCM under AIHUB_SECRET_KEY, bound to the provider id so a sealed value cannot be moved to another row.
 */
export class ProviderService {
  readonly #repository: ProviderRepository;
  readonly #secretBox: SecretBox;
  readonly #now: () => number;

  constructor(repository: ProviderRepository, secretBox: SecretBox, now: () => number = Date.now) {
    this.#repository = repository;
    this.#secretBox = secretBox;
    this.#now = now;
  }

  async save(input: StoredProviderInput): Promise<void> {
    const now = this.#now();
    await this.#repository.upsert({
      id: input.id,
      type: input.type,
      base_url: input.baseUrl.replace(/\/+$/, ''),
      api_key_sealed: input.apiKey ? this.#secretBox.encrypt(input.apiKey, sealContext(input.id)) : null,
      headers: JSON.stringify(input.headers ?? {}),
      created_at: now,
      updated_at: now,
    });
  }

  async list(): Promise<StoredProviderSummary[]> {
    return (await this.#repository.list()).map((row) => ({
      id: row.id,
      type: row.type,
      baseUrl: row.base_url,
      hasApiKey: row.api_key_sealed !== null,
      updatedAt: row.updated_at,
    }));
  }

  remove(id: string): Promise<boolean> {
    return this.#repository.remove(id);
  }

  /** Decrypts stored providers into runtime configuration; called once at start. */
  async loadConfigs(): Promise<ProviderConfig[]> {
    return (await this.#repository.list()).map((row) => this.#toConfig(row));
  }

  #toConfig(row: ProviderRow): ProviderConfig {
    const apiKey =
      row.api_key_sealed === null ? undefined : this.#secretBox.decrypt(row.api_key_sealed, sealContext(row.id));
    return {
      id: row.id,
      type: row.type as ProviderConfig['type'],
      preset: undefined,
      baseUrl: row.base_url,
      apiKey,
      credentials: [{ id: 'default', apiKey, weight: 1 }],
      headers: JSON.parse(row.headers) as Record<string, string>,
      options: {},
      maxConnections: 256,
      timeoutMs: 600_000,
      timeouts: { connectMs: 10_000, firstByteMs: 600_000, totalMs: 1_800_000, streamIdleMs: 600_000 },
      orgId: null,
      source: 'database',
    };
  }
}

function sealContext(providerId: string): string {
  return `provider:${providerId}`;
}
