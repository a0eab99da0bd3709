import { isJsonRecord } from './json-value.ts';
import { createInvalidRequestError } from './openai-error.ts';
import { countEmbeddingInputTokens } from './token-counting.ts';

/** One input to embed: text, or a pre-tokenised array of token ids. */
export type EmbeddingInput = string | readonly number[];

export interface EmbeddingRequest {
  readonly model: string;
  readonly inputs: readonly EmbeddingInput[];
  readonly dimensions: number | undefined;
  readonly encodingFormat: 'float' | 'base64';
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  if (!isJsonRecord(body)) throw createInvalidRequestError('The request body must be a JSON object.');
  const model = body['model'];
  if (typeof model !== 'string' || model === '') {
    throw createInvalidRequestError('you must provide a model parameter', 'model');
  }
  const encodingFormat = body['encoding_format'] ?? 'float';
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') {
    throw createInvalidRequestError("encoding_format must be 'float' or 'base64'", 'encoding_format');
  }
  return {
    model,
    inputs: normaliseInputs(body['input']),
    dimensions: parseDimensions(body['dimensions']),
    encodingFormat,
  };
}

function parseDimensions(dimensions: unknown): number | undefined {
  if (dimensions === undefined) return undefined;
  if (typeof dimensions !== 'number' || !Number.isSafeInteger(dimensions) || dimensions < 1) {
    throw createInvalidRequestError('dimensions must be a positive integer', 'dimensions');
  }
  return dimensions;
}

/** Accepts the four shapes OpenAI accepts: string, string[], number[] (one token array) and number[][]. */
function normaliseInputs(input: unknown): EmbeddingInput[] {
  if (typeof input === 'string') return [input];
  const invalid = createInvalidRequestError(
    'input must be a string, an array of strings, an array of token ids, or an array of token-id arrays',
    'input',
  );
  if (!Array.isArray(input) || input.length === 0) throw invalid;
  if (input.every((item) => typeof item === 'number')) return [input];
  return input.map((item: unknown): EmbeddingInput => {
    if (typeof item === 'string') return item;
    if (Array.isArray(item) && item.every((token) => typeof token === 'number')) return item;
    throw invalid;
  });
}

/**
 * A deterministic vector derived from the input's content, so equal inputs embed equally (cache tests) and different
 * inputs differ. Every component is k/1024 with |k| <= 1000: exact in float32, so the base64 encoding decodes to the
 * very numbers the float encoding prints.
 */
export function mockEmbeddingVector(input: EmbeddingInput, dimensions: number): number[] {
  let seed = 0x811c9dc5;
  if (typeof input === 'string') {
    for (let index = 0; index < input.length; index += 1) seed = Math.imul(seed ^ input.charCodeAt(index), 0x01000193);
  } else {
    for (const token of input) seed = Math.imul(seed ^ token, 0x01000193);
  }
  const vector = new Array<number>(dimensions);
  for (let component = 0; component < dimensions; component += 1) {
    let mixed = Math.imul(seed ^ (component + 1), 0x9e3779b1);
    mixed ^= mixed >>> 15;
    vector[component] = (((mixed >>> 0) % 2001) - 1000) / 1024;
  }
  return vector;
}

/** OpenAI's base64 embedding format: the float32 values, little-endian, base64-encoded. */
export function encodeEmbeddingBase64(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}

export function buildEmbeddingResponseBody(
  request: EmbeddingRequest,
  defaultDimensions: number,
  withUsage: boolean,
): string {
  const dimensions = request.dimensions ?? defaultDimensions;
  let promptTokens = 0;
  const data = request.inputs.map((input, index) => {
    promptTokens += countEmbeddingInputTokens(input);
    const vector = mockEmbeddingVector(input, dimensions);
    return {
      object: 'embedding',
      index,
      embedding: request.encodingFormat === 'base64' ? encodeEmbeddingBase64(vector) : vector,
    };
  });
  return JSON.stringify({
    object: 'list',
    data,
    model: request.model,
    ...(withUsage ? { usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } } : {}),
  });
}
