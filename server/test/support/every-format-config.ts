import type { ConfigFile } from '../../src/config/file-schema.ts';

export interface EveryFormatOptions {
  /** Adds the embedding models `e-openai` and `e-gemini`. */
  readonly embeddings?: boolean;
  /** Adds the aliases `openai-alias` (of `m-openai`) and, with embeddings, `embed-alias` (of `e-openai`). */
  readonly aliases?: boolean;
}

/**
 * The mock upstream as three providers, one for each upstream wire format (OpenAI-compatible, Anthropic, Gemini),
 * with one chat model routed to each: `m-openai`, `m-anthropic` and `m-gemini`.
 */
export function everyFormatConfigFile(upstreamUrl: string, options: EveryFormatOptions = {}): ConfigFile {
  const origin = new URL(upstreamUrl).origin;
  const alias = (name: string) => (options.aliases ? { aliases: [name] } : {});
  return {
    providers: [
      { id: 'openai-mock', type: 'openai-compatible', base_url: upstreamUrl },
      { id: 'anthropic-mock', type: 'anthropic', base_url: origin },
      { id: 'gemini-mock', type: 'gemini', base_url: `${origin}/v1beta` },
    ],
    models: [
      { name: 'm-openai', ...alias('openai-alias'), deployments: [{ provider: 'openai-mock', model: 'mock-gpt' }] },
      { name: 'm-anthropic', deployments: [{ provider: 'anthropic-mock', model: 'claude-mock' }] },
      { name: 'm-gemini', deployments: [{ provider: 'gemini-mock', model: 'gemini-mock' }] },
      ...(options.embeddings
        ? [
            {
              name: 'e-openai',
              kind: 'embedding' as const,
              ...alias('embed-alias'),
              deployments: [{ provider: 'openai-mock', model: 'mock-embed' }],
            },
            {
              name: 'e-gemini',
              kind: 'embedding' as const,
              deployments: [{ provider: 'gemini-mock', model: 'gemini-embed' }],
            },
          ]
        : []),
    ],
  };
}
