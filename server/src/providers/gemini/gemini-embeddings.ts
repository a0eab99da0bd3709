import type { EmbeddingsRequest, EmbeddingsResponse } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, UnsupportedRequest } from '../spec/provider-adapter.ts';
import { isRecord } from './gemini-schema.ts';
import type { GeminiBatchEmbedContentsRequest, GeminiBatchEmbedContentsResponse } from './gemini-types.ts';

const translatedFields = new Set(['model', 'input', 'encoding_format', 'dimensions']);

/**
 * OpenAI embeddings → `:batchEmbedContents`, one request per input so any input shape OpenAI allows for text maps
 * onto one call. Token-id inputs cannot be sent: Gemini embeds text only and its tokenizer is not ours to invert.
 */
export function translateEmbeddingsRequest(
  request: EmbeddingsRequest,
  upstreamModel: string,
): { body: GeminiBatchEmbedContentsRequest; droppedParameters: string[] } {
  const texts = readTextInputs(request.input);
  const dimensions = typeof request.dimensions === 'number' ? { outputDimensionality: request.dimensions } : {};
  const body: GeminiBatchEmbedContentsRequest = {
    // Each inner request names the model again, as `models/<id>`, and it must match the one in the path.
    requests: texts.map((text) => ({
      model: `models/${upstreamModel}`,
      content: { parts: [{ text }] },
      ...dimensions,
    })),
  };
  const droppedParameters = Object.entries(request)
    .filter(([field, value]) => value !== undefined && value !== null && !translatedFields.has(field))
    .map(([field]) => field);
  return { body, droppedParameters };
}

function readTextInputs(input: EmbeddingsRequest['input']): string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((item): item is string => typeof item === 'string')) {
    return input;
  }
  throw new UnsupportedRequest('Gemini embeds text only: input must be a string or an array of strings', 'input');
}

/**
 * Gemini returns float vectors and no token counts, so usage is left to the gateway's own count. A client that
 * asked for base64 gets OpenAI's encoding of the same numbers: float32, little-endian, base64.
 */
export function parseEmbeddingsResponse(body: string, request: EmbeddingsRequest): EmbeddingsResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new MalformedUpstreamResponse('Gemini sent a body that is not JSON');
  }
  const embeddings = isRecord(parsed) ? (parsed as GeminiBatchEmbedContentsResponse).embeddings : undefined;
  if (!Array.isArray(embeddings)) throw new MalformedUpstreamResponse('Gemini embeddings response without embeddings');
  const expected = typeof request.input === 'string' ? 1 : Array.isArray(request.input) ? request.input.length : 0;
  if (embeddings.length !== expected) {
    throw new MalformedUpstreamResponse(`Gemini returned ${embeddings.length} embeddings for ${expected} inputs`);
  }
  const base64 = request.encoding_format === 'base64';
  return {
    object: 'list',
    data: embeddings.map((embedding, index) => {
      const values = embedding.values;
      if (!Array.isArray(values) || !values.every((value) => typeof value === 'number')) {
        throw new MalformedUpstreamResponse(`Gemini embedding ${index} has no numeric values`);
      }
      return { object: 'embedding', index, embedding: base64 ? encodeFloat32Base64(values) : values };
    }),
    model: request.model,
  };
}

export function encodeFloat32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}
