/** The wire format a provider speaks; `openai-compatible` upstreams may name a preset for their quirks. */
export type ProviderType = 'openai' | 'openai-compatible' | 'azure-openai' | 'anthropic' | 'gemini';
