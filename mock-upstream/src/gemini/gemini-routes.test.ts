import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockCompletionText } from '../chat.ts';
import { mockEmbeddingVector } from '../embeddings.ts';
import { startMockUpstream, type MockUpstreamHandle } from '../server.ts';
import { postJson, readJson, readSse } from '../test-support.ts';

interface GeminiResponseBody {
  candidates: {
    content: { role: string; parts: { text?: string; functionCall?: { name: string; args: unknown } }[] };
    finishReason?: string;
    index: number;
  }[];
  usageMetadata?: { promptTokenCount: number; candidatesTokenCount: number; totalTokenCount: number };
  modelVersion: string;
  responseId: string;
}

interface GeminiErrorBody {
  error: { code: number; message: string; status: string };
}

const userTurn = (text: string) => ({ role: 'user', parts: [{ text }] });
const weatherTools = [
  { functionDeclarations: [{ name: 'get_current_weather', parameters: { type: 'object' } }, { name: 'other' }] },
];

describe('Gemini routes', () => {
  let upstream: MockUpstreamHandle;
  let base: string;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 4 });
    base = upstream.url.replace(/\/v1$/, '/v1beta');
  });
  afterAll(() => upstream.close());

  const generate = (body: unknown, headers: Record<string, string> = {}, model = 'gemini-2.5-flash') =>
    postJson(`${base}/models/${model}:generateContent`, body, headers);
  const stream = (body: unknown, headers: Record<string, string> = {}) =>
    postJson(`${base}/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, body, headers);

  it('answers generateContent with one candidate, usage and the model from the path', async () => {
    const response = await generate({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [userTurn('Hello there!')],
    });
    expect(response.status).toBe(200);
    const body = await readJson<GeminiResponseBody>(response);
    expect(body).toMatchObject({
      candidates: [
        { content: { role: 'model', parts: [{ text: mockCompletionText(4) }] }, finishReason: 'STOP', index: 0 },
      ],
      // (1 system instruction + 1 turn) * 10 + round(21 characters / 4)
      usageMetadata: { promptTokenCount: 25, candidatesTokenCount: 4, totalTokenCount: 29 },
      modelVersion: 'gemini-2.5-flash',
    });
    expect(body.responseId).toMatch(/^gemini-mock-\d+$/);
  });

  it('decodes the model and takes the length from x-mock-chunks', async () => {
    const response = await generate({ contents: [userTurn('Hi')] }, { 'x-mock-chunks': '2' }, 'tuned%20model');
    const body = await readJson<GeminiResponseBody>(response);
    expect(body.modelVersion).toBe('tuned model');
    expect(body.candidates[0]!.content.parts[0]!.text).toBe(mockCompletionText(2));
  });

  it('calls the first declared function when tools are given and the last user turn asks about weather', async () => {
    const response = await generate({
      contents: [userTurn('hello'), { role: 'model', parts: [{ text: 'hi' }] }, userTurn('What is the Weather?')],
      tools: weatherTools,
    });
    const body = await readJson<GeminiResponseBody>(response);
    expect(body.candidates[0]).toEqual({
      content: { role: 'model', parts: [{ functionCall: { name: 'get_current_weather', args: { city: 'Paris' } } }] },
      finishReason: 'STOP',
      index: 0,
    });
    expect(body.usageMetadata!.candidatesTokenCount).toBe(5);
  });

  it('answers with text when there are no tools, or once the function result came back', async () => {
    const withoutTools = await readJson<GeminiResponseBody>(await generate({ contents: [userTurn('weather?')] }));
    expect(withoutTools.candidates[0]!.content.parts[0]!.text).toBe(mockCompletionText(4));

    const afterResult = await generate({
      contents: [
        userTurn('weather in Paris?'),
        { role: 'model', parts: [{ functionCall: { name: 'get_current_weather', args: { city: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_current_weather', response: { result: 'sunny' } } }] },
      ],
      tools: weatherTools,
    });
    const body = await readJson<GeminiResponseBody>(afterResult);
    expect(body.candidates[0]!.content.parts[0]!.text).toBe(mockCompletionText(4));
  });

  it('streams one event per word with growing usage, finishReason on the last, and no [DONE]', async () => {
    const response = await stream({ contents: [userTurn('Hello there!')] });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const { dataLines, error } = await readSse(response);
    expect(error).toBeUndefined();
    const events = dataLines.map((line) => JSON.parse(line) as GeminiResponseBody);
    expect(events).toHaveLength(4);
    expect(events.map((event) => event.candidates[0]!.content.parts[0]!.text).join('')).toBe(mockCompletionText(4));
    expect(events.map((event) => event.candidates[0]!.finishReason)).toEqual([undefined, undefined, undefined, 'STOP']);
    expect(events.map((event) => event.usageMetadata!.candidatesTokenCount)).toEqual([1, 2, 3, 4]);
    expect(new Set(events.map((event) => event.responseId)).size).toBe(1);
  });

  it('streams a function call as one finished event', async () => {
    const { dataLines } = await readSse(await stream({ contents: [userTurn('weather')], tools: weatherTools }));
    expect(dataLines).toHaveLength(1);
    const event = JSON.parse(dataLines[0]!) as GeminiResponseBody;
    expect(event.candidates[0]!.content.parts[0]!.functionCall).toEqual({
      name: 'get_current_weather',
      args: { city: 'Paris' },
    });
    expect(event.candidates[0]!.finishReason).toBe('STOP');
  });

  it('streams a single finished event when asked for zero chunks', async () => {
    const { dataLines } = await readSse(await stream({ contents: [userTurn('Hi')] }, { 'x-mock-chunks': '0' }));
    expect(dataLines.map((line) => JSON.parse(line) as GeminiResponseBody)).toMatchObject([
      {
        candidates: [{ content: { parts: [{ text: '' }] }, finishReason: 'STOP' }],
        usageMetadata: { candidatesTokenCount: 0 },
      },
    ]);
  });

  it('rejects a request without contents with a Gemini-shaped 400', async () => {
    const response = await generate({ contents: [] });
    expect(response.status).toBe(400);
    const body = await readJson<GeminiErrorBody>(response);
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(body.error.message).toContain('contents');
  });

  it('does not route unknown methods or other verbs', async () => {
    const unknownMethod = await postJson(`${base}/models/gemini-2.5-flash:countTokens`, { contents: [userTurn('x')] });
    expect(unknownMethod.status).toBe(404);
    await unknownMethod.body?.cancel();
    const get = await fetch(`${base}/models/gemini-2.5-flash:generateContent`);
    expect(get.status).toBe(404);
    await get.body?.cancel();
  });

  describe('batchEmbedContents', () => {
    const embed = (body: unknown) => postJson(`${base}/models/gemini-embedding-001:batchEmbedContents`, body);
    const embedRequest = (text: string, extra: Record<string, unknown> = {}) => ({
      model: 'models/gemini-embedding-001',
      content: { parts: [{ text }] },
      ...extra,
    });

    it('embeds each request in order with the shared deterministic vectors and no usage', async () => {
      const response = await embed({
        requests: [embedRequest('first'), embedRequest('second', { outputDimensionality: 3 })],
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        embeddings: [{ values: mockEmbeddingVector('first', 8) }, { values: mockEmbeddingVector('second', 3) }],
      });
    });

    it('rejects an inner request whose model differs from the path', async () => {
      const response = await embed({ requests: [{ ...embedRequest('x'), model: 'models/other' }] });
      expect(response.status).toBe(400);
      expect((await readJson<GeminiErrorBody>(response)).error.message).toContain('requests[0].model');
    });

    it.each([
      [{}],
      [{ requests: [{ model: 'models/gemini-embedding-001' }] }],
      [{ requests: [embedRequest('x', { outputDimensionality: 0 })] }],
    ])('rejects the malformed body %j', async (body) => {
      const response = await embed(body);
      expect(response.status).toBe(400);
      expect((await readJson<GeminiErrorBody>(response)).error.status).toBe('INVALID_ARGUMENT');
    });
  });

  describe('failure modes', () => {
    it('ends a stream early, before any finishReason, in truncated mode', async () => {
      const { dataLines, error } = await readSse(
        await stream({ contents: [userTurn('Hi')] }, { 'x-mock-fail': 'truncated' }),
      );
      expect(error).toBeUndefined();
      expect(dataLines).toHaveLength(2);
      for (const line of dataLines)
        expect((JSON.parse(line) as GeminiResponseBody).candidates[0]!.finishReason).toBeUndefined();
    });

    it('omits usageMetadata in no-usage mode', async () => {
      const plain = await readJson<GeminiResponseBody>(
        await generate({ contents: [userTurn('Hi')] }, { 'x-mock-fail': 'no-usage' }),
      );
      expect(plain).not.toHaveProperty('usageMetadata');
      const { dataLines } = await readSse(await stream({ contents: [userTurn('Hi')] }, { 'x-mock-fail': 'no-usage' }));
      for (const line of dataLines) expect(JSON.parse(line)).not.toHaveProperty('usageMetadata');
    });

    it('sends a data line that is not JSON in garbage mode', async () => {
      const { dataLines } = await readSse(await stream({ contents: [userTurn('Hi')] }, { 'x-mock-fail': 'garbage' }));
      expect(() => JSON.parse(dataLines[1]!) as unknown).toThrow(SyntaxError);
    });

    it('answers x-mock-fail: 503 with that status', async () => {
      const response = await generate({ contents: [userTurn('Hi')] }, { 'x-mock-fail': '503' });
      expect(response.status).toBe(503);
      await response.body?.cancel();
    });
  });
});
