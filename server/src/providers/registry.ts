import type { ProviderConfig } from '../config/config.ts';
import { openAiAdapter } from './openai/openai-adapter.ts';
import type { ProviderAdapter } from './spec/provider-adapter.ts';

const adaptersByType: Record<ProviderConfig['type'], ProviderAdapter> = {
  openai: openAiAdapter,
  'openai-compatible': openAiAdapter,
};

export function adapterFor(type: ProviderConfig['type']): ProviderAdapter {
  return adaptersByType[type];
}
