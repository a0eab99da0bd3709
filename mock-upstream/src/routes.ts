import { replyToAnthropicMessages } from './anthropic/messages.ts';
import { buildChatCompletionBody, buildChatCompletionStreamFrames, parseChatCompletionRequest } from './chat.ts';
import { buildEmbeddingResponseBody, parseEmbeddingRequest } from './embeddings.ts';
import { findGeminiRoute } from './gemini/gemini-routes.ts';
import type { RequestBehaviour } from './mock-headers.ts';
import type { ModelCatalog } from './models.ts';
import { MockRequestError } from './openai-error.ts';
import type { MockReply } from './reply.ts';

/** What a route may read besides the body; everything here is already resolved for this request. */
export interface RouteContext {
  readonly behaviour: RequestBehaviour;
  readonly catalog: ModelCatalog;
  readonly embeddingDimensions: number;
  readonly createResponseId: (prefix: string) => string;
}

/** Builds the reply or throws a MockRequestError for a request the real API would reject. */
export type RouteHandler = (body: unknown, context: RouteContext) => MockReply;

const modelPathPrefix = '/v1/models/';

export function findRoute(method: string, path: string): RouteHandler | undefined {
  if (method === 'POST' && path === '/v1/chat/completions') return replyToChatCompletion;
  if (method === 'POST' && path === '/v1/embeddings') return replyToEmbeddings;
  if (method === 'POST' && path === '/v1/messages') return replyToAnthropicMessages;
  const geminiRoute = findGeminiRoute(method, path);
  if (geminiRoute) return geminiRoute;
  if (method === 'GET' && path === '/v1/models') return replyToModelList;
  if (method === 'GET' && path.startsWith(modelPathPrefix) && path.length > modelPathPrefix.length) {
    // Ids like "org/model" keep their slash, which is why this is a prefix match rather than a segment match.
    const modelId = decodePathSegment(path.slice(modelPathPrefix.length));
    return (_body, context) => replyToModel(modelId, context);
  }
  return undefined;
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape cannot name a served model; keeping it raw yields the ordinary model_not_found.
    return segment;
  }
}

export function createUnknownRouteError(method: string, path: string): MockRequestError {
  return new MockRequestError(404, {
    message: `Invalid URL (${method} ${path})`,
    type: 'invalid_request_error',
    param: null,
    code: null,
  });
}

function replyToChatCompletion(body: unknown, context: RouteContext): MockReply {
  const request = parseChatCompletionRequest(body);
  const shape = {
    id: context.createResponseId('chatcmpl-mock-'),
    created: Math.floor(Date.now() / 1000),
    chunks: context.behaviour.chunks,
    withUsage: context.behaviour.failure !== 'no-usage',
    toolCallId: request.toolName === undefined ? undefined : context.createResponseId('call_mock_'),
  };
  if (request.stream) return { kind: 'stream', frames: buildChatCompletionStreamFrames(request, shape) };
  return { kind: 'json', status: 200, body: buildChatCompletionBody(request, shape) };
}

function replyToEmbeddings(body: unknown, context: RouteContext): MockReply {
  const request = parseEmbeddingRequest(body);
  const withUsage = context.behaviour.failure !== 'no-usage';
  return {
    kind: 'json',
    status: 200,
    body: buildEmbeddingResponseBody(request, context.embeddingDimensions, withUsage),
  };
}

function replyToModelList(_body: unknown, context: RouteContext): MockReply {
  return { kind: 'json', status: 200, body: context.catalog.listBody };
}

function replyToModel(modelId: string, context: RouteContext): MockReply {
  const body = context.catalog.findModelBody(modelId);
  if (body === undefined) {
    throw new MockRequestError(404, {
      message: `The model '${modelId}' does not exist`,
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
  }
  return { kind: 'json', status: 200, body };
}
