import type { OpenAiQuirks } from '../openai/openai-quirks.ts';

/** An OpenAI-compatible service described as data: where it lives and how it differs from OpenAI. */
export interface ProviderPreset {
  readonly displayName: string;
  /** Default `base_url`; config may override it (other regions, proxies). */
  readonly baseUrl: string;
  /** Cloud services refuse requests without a key; local servers take none (no Authorization header is sent). */
  readonly requiresApiKey: boolean;
  readonly quirks: OpenAiQuirks;
}

/*
 * Every preset authenticates with `Authorization: Bearer <key>`. Quirks are listed only where the provider's own
 * documentation (or its API's recorded behaviour) says so; the source is noted beside each. Providers that return
 * thinking in `reasoning_content` (DeepSeek, Qwen, Moonshot, Zhipu, Doubao, SiliconFlow, xAI) need nothing: that is
 * already the internal convention.
 */
export const providerPresets = {
  deepseek: {
    displayName: 'DeepSeek',
    baseUrl: 'https://api.deepseek.com',
    requiresApiKey: true,
    quirks: {
      // response_format.type is "text" or "json_object" only: https://api-docs.deepseek.com/api/create-chat-completion
      jsonSchemaFallback: 'json_object',
      // Cache hits are counted in usage.prompt_cache_hit_tokens: https://api-docs.deepseek.com/guides/kv_cache
      cachedTokensField: 'prompt_cache_hit_tokens',
    },
  },
  qwen: {
    // International (Singapore) endpoint: https://dashscope-intl.aliyuncs.com/compatible-mode/v1
    // https://help.aliyun.com/zh/model-studio/compatibility-of-openai-with-dashscope
    displayName: 'Qwen (Alibaba Cloud DashScope, OpenAI-compatible mode)',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    requiresApiKey: true,
    quirks: {},
  },
  moonshot: {
    // International endpoint: https://api.moonshot.ai/v1 (keys are not shared between the two platforms).
    displayName: 'Moonshot AI (Kimi)',
    baseUrl: 'https://api.moonshot.cn/v1',
    requiresApiKey: true,
    quirks: {
      // The last stream chunk carries usage inside choices[0]: see the streaming example in
      // https://platform.moonshot.cn/docs/api/chat (quoted in github.com/northes/go-moonshot/issues/17).
      usageInStreamChoices: true,
      // Cache hits are counted in a top-level usage.cached_tokens: https://platform.kimi.ai/docs/api/chat
      cachedTokensField: 'cached_tokens',
    },
  },
  zhipu: {
    // Z.AI (international): https://api.z.ai/api/paas/v4
    displayName: 'Zhipu AI (GLM, BigModel)',
    baseUrl: 'https://open.bigmodel.cn/api/paas/v4',
    requiresApiKey: true,
    quirks: {},
  },
  doubao: {
    // The model is an Ark model name or an inference endpoint id (ep-...): https://www.volcengine.com/docs/82379
    displayName: 'Doubao (Volcengine Ark)',
    baseUrl: 'https://ark.cn-beijing.volces.com/api/v3',
    requiresApiKey: true,
    quirks: {},
  },
  siliconflow: {
    // International endpoint: https://api.siliconflow.com/v1
    displayName: 'SiliconFlow',
    baseUrl: 'https://api.siliconflow.cn/v1',
    requiresApiKey: true,
    quirks: {},
  },
  minimax: {
    // International endpoint: https://api.minimax.io/v1 (https://platform.minimax.io/docs/api-reference/text-openai-api)
    displayName: 'MiniMax',
    baseUrl: 'https://api.minimaxi.com/v1',
    requiresApiKey: true,
    quirks: {
      // n "only supports value 1" (MiniMax's chat guide https://api.minimax.chat/document/guides/chat-model, as
      // quoted in https://docs.camel-ai.org/reference/camel.configs.minimax_config).
      maxChoices: 1,
      // With `reasoning_split: true` thinking arrives as reasoning_details[].text
      // (https://platform.minimax.io/docs/api-reference/text-openai-api); without it, inside <think> in content.
      // In streams each delta's text is the new part only (github.com/MiniMax-AI/MiniMax-M2/issues/95).
      reasoningField: 'reasoning_details',
    },
  },
  openrouter: {
    displayName: 'OpenRouter',
    baseUrl: 'https://openrouter.ai/api/v1',
    requiresApiKey: true,
    quirks: {
      // Thinking arrives in message.reasoning / delta.reasoning (plus structured reasoning_details, kept as is):
      // https://openrouter.ai/docs/use-cases/reasoning-tokens
      reasoningField: 'reasoning',
    },
  },
  groq: {
    displayName: 'Groq',
    baseUrl: 'https://api.groq.com/openai/v1',
    requiresApiKey: true,
    quirks: {
      // "The following fields are currently not supported and will result in a 400 error (yikes) if they are
      // supplied: logprobs, logit_bias, top_logprobs, messages[].name. If N is supplied, it must be equal to 1."
      // https://console.groq.com/docs/openai
      unsupportedParameters: ['logprobs', 'logit_bias', 'top_logprobs'],
      unsupportedMessageFields: ['name'],
      maxChoices: 1,
      // reasoning_format "parsed" returns thinking in message.reasoning: https://console.groq.com/docs/reasoning
      reasoningField: 'reasoning',
    },
  },
  mistral: {
    displayName: 'Mistral AI',
    baseUrl: 'https://api.mistral.ai/v1',
    requiresApiKey: true,
    quirks: {
      // The request schema (https://docs.mistral.ai/api/endpoint/chat) rejects unknown fields with 422
      // "extra_forbidden" (github.com/mistralai/platform-docs-public/issues/7). It names the token limit max_tokens
      // and the seed random_seed, and has no logit_bias, logprobs, top_logprobs or user.
      renamedParameters: { max_completion_tokens: 'max_tokens', seed: 'random_seed' },
      unsupportedParameters: ['logit_bias', 'logprobs', 'top_logprobs', 'user'],
      // stream_options is rejected the same way (github.com/openai/openai-agents-python/issues/442), and the last
      // stream chunk always carries usage.
      streamUsage: 'always',
    },
  },
  xai: {
    // grok-3-mini returns reasoning_content: https://docs.x.ai/docs/guides/reasoning
    displayName: 'xAI (Grok)',
    baseUrl: 'https://api.x.ai/v1',
    requiresApiKey: true,
    quirks: {},
  },
  together: {
    displayName: 'Together AI',
    baseUrl: 'https://api.together.xyz/v1',
    requiresApiKey: true,
    quirks: {
      // Reasoning models answer with message.reasoning (github.com/togethercomputer/openapi/pull/132).
      reasoningField: 'reasoning',
    },
  },
  ollama: {
    displayName: 'Ollama (local)',
    baseUrl: 'http://127.0.0.1:11434/v1',
    requiresApiKey: false,
    quirks: {
      // Thinking models answer with message.reasoning / delta.reasoning on /v1/chat/completions
      // (https://docs.ollama.com/api/openai-compatibility; github.com/ollama/ollama/issues/15288).
      reasoningField: 'reasoning',
    },
  },
  vllm: {
    displayName: 'vLLM (self-hosted)',
    baseUrl: 'http://127.0.0.1:8000/v1',
    requiresApiKey: false,
    quirks: {
      // "reasoning used to be called reasoning_content": https://docs.vllm.ai/en/latest/features/reasoning_outputs/
      // (older servers still send reasoning_content, which passes through unchanged).
      reasoningField: 'reasoning',
    },
  },
  'lm-studio': {
    displayName: 'LM Studio (local)',
    baseUrl: 'http://127.0.0.1:1234/v1',
    requiresApiKey: false,
    quirks: {
      // Since 0.3.23 reasoning is in choices.message.reasoning / choices.delta.reasoning
      // (https://lmstudio.ai/docs/app/api-changelog); the older opt-in reasoning_content passes through unchanged.
      reasoningField: 'reasoning',
    },
  },
} as const satisfies Readonly<Record<string, ProviderPreset>>;

export type PresetName = keyof typeof providerPresets;

export const presetNames = Object.keys(providerPresets) as PresetName[];

export function findPreset(name: string): ProviderPreset | undefined {
  return Object.hasOwn(providerPresets, name) ? providerPresets[name as PresetName] : undefined;
}

/** Base URLs for provider types with one well-known endpoint; other types need a preset or an explicit base_url. */
export const defaultBaseUrlByType: Readonly<Record<string, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com/v1beta',
};
