/**
 * What a gateway request asks of traffic control before it runs: which model, and at most how many tokens it can
 * use. Read from the validated body by the one hook that enforces limits, so every endpoint is covered by an entry
 * here; a /v1 route without one fails at start-up (see traffic-hook.ts), like a route without a key scope.
 */
export interface Demand {
  /** The model asked for, or undefined for endpoints without one (the model list). */
  readonly model: string | undefined;
  /**
   * Upper bound of the prompt's tokens: every string and object key counted at one token per UTF-8 byte, plus a few
   * tokens of structure per object and array, and a fixed allowance per inline image instead of its bytes. No
   * byte-level BPE tokenizer produces more tokens than bytes, so the estimate never falls short for text.
   */
  readonly promptTokens: number;
  /** Output tokens the request may produce at most; undefined when it does not say (a configured default applies). */
  readonly maxOutputTokens: number | undefined;
  /** Whether the request is priced (reserves budget and counts tokens): false for token counting and listings. */
  readonly metered: boolean;
}

/** Reads a route's demand from its validated body. */
export type DemandReader = (body: unknown) => Demand;

/** Tokens counted for one inline image (a data URL or base64 source) instead of its bytes. */
export const imageTokenAllowance = 2000;
/** Structure tokens counted per object or array (message framing, role markers, separators). */
const structureTokens = 4;

const unmetered: Demand = { model: undefined, promptTokens: 0, maxOutputTokens: 0, metered: false };

export const endpointDemands: Readonly<Record<string, DemandReader>> = {
  '/v1/chat/completions': (body) => chatDemand(body, ['max_completion_tokens', 'max_tokens']),
  '/v1/messages': (body) => chatDemand(body, ['max_tokens']),
  // Counting tokens costs nothing upstream: it counts as a request, not against tokens or budgets.
  '/v1/messages/count_tokens': (body) => ({ ...unmetered, model: modelOf(body) }),
  '/v1/embeddings': (body) => ({
    model: modelOf(body),
    promptTokens: estimateTokens(fieldOf(body, 'input')),
    maxOutputTokens: 0,
    metered: true,
  }),
  '/v1/models': () => unmetered,
  '/v1/models/:model': () => unmetered,
};

export function demandReaderFor(routeUrl: string): DemandReader | undefined {
  return Object.hasOwn(endpointDemands, routeUrl) ? endpointDemands[routeUrl] : undefined;
}

function chatDemand(body: unknown, outputFields: readonly string[]): Demand {
  let maxOutputTokens: number | undefined;
  for (const field of outputFields) {
    const value = fieldOf(body, field);
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      maxOutputTokens = Math.ceil(value);
      break;
    }
  }
  const choices = fieldOf(body, 'n');
  const count = typeof choices === 'number' && Number.isInteger(choices) && choices > 1 ? choices : 1;
  return {
    model: modelOf(body),
    // The whole body but the model name: messages, system prompt, tools and settings all reach the prompt or cost
    // nothing, and counting them all keeps the estimate an upper bound.
    promptTokens: estimateTokens(body),
    maxOutputTokens: maxOutputTokens === undefined ? undefined : maxOutputTokens * count,
    metered: true,
  };
}

function modelOf(body: unknown): string | undefined {
  const model = fieldOf(body, 'model');
  return typeof model === 'string' ? model : undefined;
}

function fieldOf(body: unknown, field: string): unknown {
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)[field]
    : undefined;
}

/** The upper-bound token estimate of any JSON value (see `Demand.promptTokens`). */
export function estimateTokens(value: unknown): number {
  if (typeof value === 'string') return isInlineImage(value) ? imageTokenAllowance : Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'boolean') return 1;
  if (value === null || typeof value !== 'object') return 0;
  let tokens = structureTokens;
  if (Array.isArray(value)) {
    for (const item of value) tokens += estimateTokens(item);
    return tokens;
  }
  const record = value as Record<string, unknown>;
  // Anthropic's image and document blocks carry base64 in `source.data`.
  if (record.type === 'base64' && typeof record.data === 'string') return tokens + imageTokenAllowance;
  for (const key in record) tokens += key.length + estimateTokens(record[key]);
  return tokens;
}

/** A data URL or a long base64 run: an image or file sent inline, whose bytes are not prompt text. */
function isInlineImage(text: string): boolean {
  return text.length > 256 && text.startsWith('data:') && text.includes(';base64,');
}
