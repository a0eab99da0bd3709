import type { MockReply } from '../reply.ts';
import type { RouteContext, RouteHandler } from '../routes.ts';
import { buildBatchEmbedBody, parseBatchEmbedRequest } from './gemini-embed.ts';
import { serializeGeminiError } from './gemini-error.ts';
import {
  buildGenerateContentBody,
  buildGenerateContentStreamFrames,
  parseGenerateContentRequest,
} from './gemini-generate.ts';

/** Gemini's REST paths name the model and the method: `/v1beta/models/<model>:<method>`. */
export const geminiModelPathPrefix = '/v1beta/models/';

/**
 * Routes for the Gemini API, or undefined for a path that is not one. The server strips the query before routing, so
 * `:streamGenerateContent` always answers with server-sent events, as it does with the `alt=sse` clients send.
 */
export function findGeminiRoute(method: string, path: string): RouteHandler | undefined {
  if (method !== 'POST' || !path.startsWith(geminiModelPathPrefix)) return undefined;
  const target = path.slice(geminiModelPathPrefix.length);
  const separator = target.lastIndexOf(':');
  if (separator <= 0) return undefined;
  const model = decodeModel(target.slice(0, separator));
  switch (target.slice(separator + 1)) {
    case 'generateContent':
      return (body, context) => replyToGenerateContent(model, body, context, false);
    case 'streamGenerateContent':
      return (body, context) => replyToGenerateContent(model, body, context, true);
    case 'batchEmbedContents':
      return (body, context) => replyToBatchEmbedContents(model, body, context);
    default:
      return undefined;
  }
}

function decodeModel(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Bad requests answer in Gemini's error shape, as a reply rather than a thrown MockRequestError (OpenAI-shaped). */
function invalidArgument(message: string): MockReply {
  return { kind: 'json', status: 400, body: serializeGeminiError(400, message) };
}

function replyToGenerateContent(model: string, body: unknown, context: RouteContext, stream: boolean): MockReply {
  const request = parseGenerateContentRequest(model, body);
  if (typeof request === 'string') return invalidArgument(request);
  const shape = {
    responseId: context.createResponseId('gemini-mock-'),
    chunks: context.behaviour.chunks,
    withUsage: context.behaviour.failure !== 'no-usage',
  };
  if (stream) return { kind: 'stream', frames: buildGenerateContentStreamFrames(request, shape) };
  return { kind: 'json', status: 200, body: buildGenerateContentBody(request, shape) };
}

function replyToBatchEmbedContents(model: string, body: unknown, context: RouteContext): MockReply {
  const request = parseBatchEmbedRequest(model, body);
  if (typeof request === 'string') return invalidArgument(request);
  return { kind: 'json', status: 200, body: buildBatchEmbedBody(request, context.embeddingDimensions) };
}
