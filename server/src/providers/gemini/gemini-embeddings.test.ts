import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EmbeddingsRequest } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, UnsupportedRequest, type ProviderTarget } from '../spec/provider-adapter.ts';
import { geminiAdapter } from './gemini-adapter.ts';

const readFixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/embeddings/${name}`, import.meta.url), 'utf8');

const target: ProviderTarget = {
  baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
  apiKey: 'test-key',
  headers: {},
  upstreamModel: 'gemini-embedding-001',
  options: {},
};
const embeddings = geminiAdapter.embeddings!;
const request = JSON.parse(readFixture('batch-embed.openai.json')) as EmbeddingsRequest;

describe('geminiAdapter.embeddings', () => {
  it('builds a batchEmbedContents request, one inner request per input', () => {
    const upstream = embeddings.buildRequest(request, target);
    expect(upstream.path).toBe('/models/gemini-embedding-001:batchEmbedContents');
    expect(upstream.headers).toEqual({ 'content-type': 'application/json', 'x-goog-api-key': 'test-key' });
    expect(JSON.parse(upstream.body)).toEqual(JSON.parse(readFixture('batch-embed.gemini.json')));
    expect(upstream.droppedParameters).toEqual(['user']);
  });

  it('sends a single string as one request without outputDimensionality when none was asked', () => {
    const upstream = embeddings.buildRequest({ model: 'e', input: 'hello' }, target);
    expect(JSON.parse(upstream.body)).toEqual({
      requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] } }],
    });
    expect(upstream.droppedParameters).toBeUndefined();
  });

  it.each([[[1, 2, 3]], [[[1, 2], [3]]], [[]]])('rejects input %j, naming input', (input) => {
    let caught: unknown;
    try {
      embeddings.buildRequest({ model: 'e', input }, target);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedRequest);
    expect((caught as UnsupportedRequest).param).toBe('input');
  });

  it('returns float vectors in input order and no usage', () => {
    const { response, usage } = embeddings.parseResponse(readFixture('batch-embed-response.gemini.json'), request);
    expect(usage).toBeUndefined();
    expect(response).toEqual({
      object: 'list',
      model: 'text-embedder',
      data: [
        { object: 'embedding', index: 0, embedding: [-0.0224, 0.0053, 0.0147, -0.0689] },
        { object: 'embedding', index: 1, embedding: [0.25, -0.5, 0.125, 1.0] },
      ],
    });
  });

  it('encodes base64 as little-endian float32 when asked', () => {
    const { response } = embeddings.parseResponse(readFixture('batch-embed-response.gemini.json'), {
      ...request,
      encoding_format: 'base64',
    });
    const encoded = response.data[1]!.embedding as string;
    const bytes = Buffer.from(encoded, 'base64');
    expect(bytes).toHaveLength(16);
    expect([0, 4, 8, 12].map((offset) => bytes.readFloatLE(offset))).toEqual([0.25, -0.5, 0.125, 1.0]);
    const first = Buffer.from(response.data[0]!.embedding as string, 'base64').readFloatLE(0);
    expect(first).toBeCloseTo(-0.0224, 6);
  });

  it.each([
    ['not JSON', 'oops'],
    ['without embeddings', '{}'],
    ['with fewer embeddings than inputs', '{"embeddings": [{"values": [1]}]}'],
    ['with an embedding without values', '{"embeddings": [{"values": [1]}, {}]}'],
  ])('rejects a response %s', (_case, body) => {
    expect(() => embeddings.parseResponse(body, request)).toThrow(MalformedUpstreamResponse);
  });
});
