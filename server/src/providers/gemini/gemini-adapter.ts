import type { ProviderAdapter, ProviderTarget } from '../spec/provider-adapter.ts';
import { parseEmbeddingsResponse, translateEmbeddingsRequest } from './gemini-embeddings.ts';
import { parseGeminiError } from './gemini-error.ts';
import { translateChatRequest } from './gemini-request.ts';
import { parseGenerateContentResponse } from './gemini-response.ts';
import { createGeminiStreamDecoder } from './gemini-stream.ts';

/**
 * Google Gemini (generativelanguage.googleapis.com). The provider's base URL is the API version root, e.g.
 * `https://generativelanguage.googleapis.com/v1beta`; paths name the model and the method.
 */
export const geminiAdapter: ProviderAdapter = {
  wireFormat: 'gemini',

  buildChatRequest(request, target) {
    const { body, droppedParameters } = translateChatRequest(request);
    // `alt=sse` makes the stream server-sent events; without it Gemini streams one growing JSON array.
    const method = request.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return {
      path: `${modelPath(target)}:${method}`,
      headers: buildHeaders(target),
      body: JSON.stringify(body),
      ...(droppedParameters.length > 0 ? { droppedParameters } : {}),
    };
  },

  parseChatResponse: parseGenerateContentResponse,

  createChatStreamDecoder: createGeminiStreamDecoder,

  embeddings: {
    buildRequest(request, target) {
      const { body, droppedParameters } = translateEmbeddingsRequest(request, upstreamModelId(target));
      return {
        path: `${modelPath(target)}:batchEmbedContents`,
        headers: buildHeaders(target),
        body: JSON.stringify(body),
        ...(droppedParameters.length > 0 ? { droppedParameters } : {}),
      };
    },
    parseResponse: (body, request) => ({ response: parseEmbeddingsResponse(body, request), usage: undefined }),
  },

  parseError: parseGeminiError,
};

/** Google's own docs write model names as `models/<id>`; accept that spelling in config as well as the bare id. */
function upstreamModelId(target: ProviderTarget): string {
  return target.upstreamModel.startsWith('models/')
    ? target.upstreamModel.slice('models/'.length)
    : target.upstreamModel;
}

function modelPath(target: ProviderTarget): string {
  return `/models/${encodeURIComponent(upstreamModelId(target))}`;
}

function buildHeaders(target: ProviderTarget): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...target.headers };
  if (target.apiKey) headers['x-goog-api-key'] = target.apiKey;
  return headers;
}
