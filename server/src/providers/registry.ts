import { anthropicAdapter } from './anthropic/anthropic-adapter.ts';
import { geminiAdapter } from './gemini/gemini-adapter.ts';
import { azureOpenAiAdapter } from './openai/azure-openai-adapter.ts';
import { openAiAdapter } from './openai/openai-adapter.ts';
import { createOpenAiCompatibleAdapter } from './openai/openai-compatible-adapter.ts';
import { findPreset } from './presets/provider-presets.ts';
import type { ProviderAdapter } from './spec/provider-adapter.ts';
import type { ProviderType } from './spec/provider-type.ts';

/** One adapter per preset, shared by every provider that names it (adapters are stateless). */
const presetAdapters = new Map<string, ProviderAdapter>();

/** The adapter for a configured provider, chosen by its type and, for OpenAI-compatible ones, its preset. */
export function adapterFor(provider: {
  readonly type: ProviderType;
  readonly preset: string | undefined;
}): ProviderAdapter {
  switch (provider.type) {
    case 'openai':
      return openAiAdapter;
    case 'openai-compatible':
      return provider.preset === undefined ? openAiAdapter : presetAdapter(provider.preset);
    case 'azure-openai':
      return azureOpenAiAdapter;
    case 'anthropic':
      return anthropicAdapter;
    case 'gemini':
      return geminiAdapter;
  }
}

function presetAdapter(name: string): ProviderAdapter {
  let adapter = presetAdapters.get(name);
  if (!adapter) {
    const preset = findPreset(name);
    // Config validation rejects unknown presets; this guards callers that build ProviderConfig by hand.
    if (!preset) throw new Error(`unknown provider preset ${name}`);
    adapter = createOpenAiCompatibleAdapter(preset.quirks);
    presetAdapters.set(name, adapter);
  }
  return adapter;
}
