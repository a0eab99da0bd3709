/**
 * What the benchmark sends, per upstream path. A scenario names the request the client makes to AI Hub, the
 * provider AI Hub forwards it to (the mock, speaking that provider's wire format), and the equivalent request the
 * baseline sends to the mock directly, so "direct" and "through AI Hub" ask for the same work.
 *
 * run.sh (through describe-scenario.ts), the wrk script and the load generator take everything from here; a new
 * upstream path is a new entry.
 */
export type BenchTarget = 'direct' | 'gateway';

export interface BenchScenario {
  readonly description: string;
  /** The model name published in the gateway config; the mock answers any name it is sent. */
  readonly model: string;
  /** Provider `type` in the gateway config, and what to append to the mock's origin for its `base_url`. */
  readonly providerType: 'openai-compatible' | 'anthropic';
  readonly providerBasePath: string;
  readonly paths: Readonly<Record<BenchTarget, string>>;
  /** Headers besides content-type and `Authorization: Bearer <key>`, which every request carries. */
  readonly headers: Readonly<Record<BenchTarget, Readonly<Record<string, string>>>>;
  buildBody(target: BenchTarget, options: { stream: boolean }): string;
}

const systemPrompt = 'You are a terse assistant.';
const userPrompt = 'Say hello to the benchmark in a few words.';
const maxTokens = 64;

function buildOpenAiChatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: systemPrompt },
      { role: 'user', content: userPrompt },
    ],
    max_tokens: maxTokens,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

function buildAnthropicMessagesBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    system: systemPrompt,
    messages: [{ role: 'user', content: userPrompt }],
    max_tokens: maxTokens,
    ...(stream ? { stream: true } : {}),
  });
}

export const scenarios = {
  openai: {
    description: 'OpenAI chat completions passed through to an OpenAI-compatible upstream',
    model: 'mock-gpt',
    providerType: 'openai-compatible',
    providerBasePath: '/v1',
    paths: { direct: '/v1/chat/completions', gateway: '/v1/chat/completions' },
    headers: { direct: {}, gateway: {} },
    buildBody: (_target, { stream }) => buildOpenAiChatBody('mock-gpt', stream),
  },
  anthropic: {
    description: 'OpenAI chat completions translated to an Anthropic Messages upstream and back',
    model: 'mock-claude',
    providerType: 'anthropic',
    providerBasePath: '',
    paths: { direct: '/v1/messages', gateway: '/v1/chat/completions' },
    headers: { direct: { 'anthropic-version': '2023-06-01' }, gateway: {} },
    buildBody: (target, { stream }) =>
      target === 'direct'
        ? buildAnthropicMessagesBody('mock-claude', stream)
        : buildOpenAiChatBody('mock-claude', stream),
  },
} as const satisfies Record<string, BenchScenario>;

export type ScenarioName = keyof typeof scenarios;

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(scenarios, name);
}

export function findScenario(name: string): BenchScenario {
  if (!isScenarioName(name)) {
    throw new RangeError(`unknown scenario "${name}"; known: ${Object.keys(scenarios).join(', ')}`);
  }
  return scenarios[name];
}
