import { mockEmbeddingVector } from '../embeddings.ts';
import { isJsonRecord } from '../json-value.ts';

export interface BatchEmbedRequest {
  readonly inputs: readonly { readonly text: string; readonly dimensions: number | undefined }[];
}

/** Reads a batchEmbedContents body, or returns the message of the 400 Gemini would send. */
export function parseBatchEmbedRequest(model: string, body: unknown): BatchEmbedRequest | string {
  if (!isJsonRecord(body)) return 'Invalid JSON payload received. The request body must be a JSON object.';
  const requests = body['requests'];
  if (!Array.isArray(requests) || requests.length === 0) {
    return '* BatchEmbedContentsRequest.requests: requests is not specified';
  }
  const inputs: { text: string; dimensions: number | undefined }[] = [];
  for (const [index, request] of requests.entries()) {
    if (!isJsonRecord(request)) return `* BatchEmbedContentsRequest.requests[${index}]: must be an object`;
    // Gemini repeats the model in every inner request and refuses a batch whose models differ from the path.
    if (request['model'] !== `models/${model}`) {
      return `* BatchEmbedContentsRequest.requests[${index}].model: model must be models/${model}, as in the URL`;
    }
    const content = request['content'];
    const parts = isJsonRecord(content) ? content['parts'] : undefined;
    if (!Array.isArray(parts) || parts.length === 0) {
      return `* BatchEmbedContentsRequest.requests[${index}].content: content is not specified`;
    }
    const text = parts
      .map((part) => (isJsonRecord(part) && typeof part['text'] === 'string' ? part['text'] : ''))
      .join('');
    const dimensions = request['outputDimensionality'];
    if (
      dimensions !== undefined &&
      (typeof dimensions !== 'number' || !Number.isSafeInteger(dimensions) || dimensions < 1)
    ) {
      return `* BatchEmbedContentsRequest.requests[${index}].output_dimensionality: must be a positive integer`;
    }
    inputs.push({ text, dimensions });
  }
  return { inputs };
}

/** The same deterministic vectors as the OpenAI route, so one text embeds alike through either API. */
export function buildBatchEmbedBody(request: BatchEmbedRequest, defaultDimensions: number): string {
  const embeddings = request.inputs.map((input) => ({
    values: mockEmbeddingVector(input.text, input.dimensions ?? defaultDimensions),
  }));
  return JSON.stringify({ embeddings });
}
