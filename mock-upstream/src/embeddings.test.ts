import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockEmbeddingVector } from './embeddings.ts';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';
import { postJson, readJson, type EmbeddingListBody, type ErrorBody } from './test-support.ts';

function decodeFloat32Base64(encoded: string): number[] {
  const bytes = Buffer.from(encoded, 'base64');
  const values: number[] = [];
  for (let offset = 0; offset < bytes.length; offset += 4) values.push(bytes.readFloatLE(offset));
  return values;
}

describe('POST /v1/embeddings', () => {
  let upstream: MockUpstreamHandle;
  beforeAll(async () => {
    upstream = await startMockUpstream();
  });
  afterAll(() => upstream.close());

  it('embeds a single string into an 8-dimension vector by default', async () => {
    const response = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input: 'hello world!' });
    expect(response.status).toBe(200);
    const body = await readJson<EmbeddingListBody>(response);
    expect(body).toMatchObject({ object: 'list', model: 'mock-embed', usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(body.data).toEqual([{ object: 'embedding', index: 0, embedding: mockEmbeddingVector('hello world!', 8) }]);
  });

  it('gives equal inputs equal vectors and different inputs different ones', () => {
    expect(mockEmbeddingVector('same', 16)).toEqual(mockEmbeddingVector('same', 16));
    expect(mockEmbeddingVector('same', 16)).not.toEqual(mockEmbeddingVector('other', 16));
    for (const value of mockEmbeddingVector('range', 64)) expect(Math.abs(value)).toBeLessThan(1);
  });

  it('embeds arrays of strings and token arrays, counting tokens per input', async () => {
    const strings = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input: ['abcd', 'abcdefgh'] });
    const stringsBody = await readJson<EmbeddingListBody>(strings);
    expect(stringsBody.data.map((item) => item.index)).toEqual([0, 1]);
    expect(stringsBody.usage!.prompt_tokens).toBe(1 + 2);

    const tokens = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input: [1, 2, 3] });
    const tokensBody = await readJson<EmbeddingListBody>(tokens);
    expect(tokensBody.data).toHaveLength(1);
    expect(tokensBody.usage!.prompt_tokens).toBe(3);

    const tokenArrays = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input: [[1, 2], [3]] });
    const tokenArraysBody = await readJson<EmbeddingListBody>(tokenArrays);
    expect(tokenArraysBody.data).toHaveLength(2);
    expect(tokenArraysBody.data[1]!.embedding).toEqual(mockEmbeddingVector([3], 8));
  });

  it('honours the dimensions parameter', async () => {
    const response = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input: 'x', dimensions: 3 });
    expect((await readJson<EmbeddingListBody>(response)).data[0]!.embedding).toHaveLength(3);
  });

  it('encodes base64 as little-endian float32 that decodes to the float vector', async () => {
    const response = await postJson(`${upstream.url}/embeddings`, {
      model: 'mock-embed',
      input: 'hello world!',
      encoding_format: 'base64',
    });
    const body = await readJson<EmbeddingListBody>(response);
    const embedding = body.data[0]!.embedding;
    expect(typeof embedding).toBe('string');
    expect(decodeFloat32Base64(String(embedding))).toEqual(mockEmbeddingVector('hello world!', 8));
  });

  it('rejects empty and mistyped input with a 400', async () => {
    for (const input of [[], 42, [{ text: 'no' }], undefined]) {
      const response = await postJson(`${upstream.url}/embeddings`, { model: 'mock-embed', input });
      expect(response.status).toBe(400);
      expect((await readJson<ErrorBody>(response)).error).toMatchObject({
        type: 'invalid_request_error',
        param: 'input',
      });
    }
  });

  it('uses the configured default dimension', async () => {
    const wide = await startMockUpstream({ embeddingDimensions: 32 });
    try {
      const response = await postJson(`${wide.url}/embeddings`, { model: 'mock-embed', input: 'x' });
      expect((await readJson<EmbeddingListBody>(response)).data[0]!.embedding).toHaveLength(32);
    } finally {
      await wide.close();
    }
  });
});
