import type { Config, ModelConfig, ProviderConfig } from './config.ts';
import { noFallbacks } from './registry-config.ts';

/**
 * The built-in demo: the mock upstream (mock-upstream/) served in-process on a loopback port, reachable as the public
 * model `demo`. It exists so a first start with no provider key can answer a real streamed chat request; it is
 * switched off as soon as a provider is configured (or by AIHUB_DEMO_PROVIDER=false).
 */
export const demoProviderId = 'aihub-demo';
export const demoModelName = 'demo';
/** What the demo's upstream calls its model; it answers any prompt with "tok0 tok1 …". */
export const demoUpstreamModel = 'demo-echo';

/** The configuration with the demo provider and model added, pointing at the mock upstream's `/v1` URL. */
export function withDemoProvider(config: Config, upstreamUrl: string): Config {
  const provider: ProviderConfig = {
    id: demoProviderId,
    type: 'openai',
    preset: undefined,
    baseUrl: upstreamUrl.replace(/\/+$/, ''),
    credentials: [{ id: 'default', apiKey: undefined, weight: 1 }],
    headers: {},
    options: {},
    maxConnections: 16,
    timeouts: { ...config.routing.timeouts, firstByteMs: 30_000, streamIdleMs: 30_000 },
    orgId: null,
    source: 'file',
  };
  const model: ModelConfig = {
    name: demoModelName,
    kind: 'chat',
    aliases: [],
    // Free, and deliberately so: not flagged as a model without a price.
    pricing: {
      inputPerMillion: 0,
      outputPerMillion: 0,
      cachedInputPerMillion: 0,
      cacheWritePerMillion: 0,
      perRequest: 0,
      priced: true,
    },
    deployments: [
      {
        providerId: demoProviderId,
        upstreamModel: demoUpstreamModel,
        weight: 1,
        priority: 1,
        pricing: undefined,
        timeouts: {},
      },
    ],
    strategy: 'weighted',
    retry: config.routing.retry,
    fallbacks: noFallbacks,
    orgId: null,
    source: 'file',
  };
  return Object.freeze({
    ...config,
    providers: Object.freeze([...config.providers, Object.freeze(provider)]),
    models: Object.freeze([...config.models, Object.freeze(model)]),
  });
}

/** True for a catalog model served only by the demo provider (labelled `aihub-demo` in `/v1/models`). */
export function isDemoProvider(providerId: string): boolean {
  return providerId === demoProviderId;
}
