import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FailureMode } from '@aihub/mock-upstream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { everyFormatConfigFile } from '../support/every-format-config.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { RawJson, serialize } from '../support/raw-json.ts';
import { fetchStream, parseSseJson } from '../support/server-sent-events.ts';
import { startTestApp, withSingleAttempt, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

/**
 * Input a provider cannot carry, malformed tool data, Anthropic-format validation and auth errors, and upstreams
 * that break in the middle of a translated stream. Every case must end in a clean error in the client's format,
 * never a 500, a hang or a missing usage record.
 */

const translationConfigFile = (upstreamUrl: string) => everyFormatConfigFile(upstreamUrl);

interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

interface NamedEvent {
  event: string | undefined;
  data: string;
}

/** Every event of an SSE body with its `event:` name, which Anthropic streams carry and OpenAI streams do not. */
function parseNamedEvents(body: string): NamedEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      return {
        event: lines.find((line) => line.startsWith('event: '))?.slice('event: '.length),
        data: lines
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice('data: '.length))
          .join('\n'),
      };
    });
}

/** Bytes whose content no check reads; only the declared media type matters. */
const arbitraryBase64 = 'JVBERi0xLjQK';
const textData = Buffer.from('plain text, not a PDF').toString('base64');

describe('bad input and broken upstreams across formats', () => {
  let testApp: TestApp;
  let origin: string;
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: (url) => withSingleAttempt(translationConfigFile(url)) });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  beforeEach(() => {
    testApp.upstream.clearRequests();
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined, chunkDelayMs: undefined });
  });
  afterAll(async () => {
    await testApp.close();
  });

  function postChat(payload: unknown) {
    return testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: serialize(payload),
    });
  }

  function postMessages(payload: unknown, headers: Record<string, string> = {}) {
    return testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: {
        'x-api-key': testApp.key,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
        ...headers,
      },
      payload: serialize(payload),
    });
  }

  describe('content a provider cannot carry (OpenAI format in)', () => {
    it.each([
      {
        name: 'an input_audio part to Anthropic',
        model: 'm-anthropic',
        part: { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
        param: 'messages[0].content[1]',
      },
      {
        name: 'a file part that is not a PDF to Anthropic',
        model: 'm-anthropic',
        part: { type: 'file', file: { file_data: `data:text/plain;base64,${textData}`, filename: 'notes.txt' } },
        param: 'messages[0].content[1]',
      },
      {
        name: 'an uploaded file id to Anthropic',
        model: 'm-anthropic',
        part: { type: 'file', file: { file_id: 'file-abc123' } },
        param: 'messages[0].content[1]',
      },
      {
        name: 'a BMP image to Anthropic',
        model: 'm-anthropic',
        part: { type: 'image_url', image_url: { url: `data:image/bmp;base64,${arbitraryBase64}` } },
        param: 'messages[0].content[1]',
      },
      {
        name: 'an uploaded file id to Gemini',
        model: 'm-gemini',
        part: { type: 'file', file: { file_id: 'file-abc123' } },
        param: 'messages[0].content[1]',
      },
      {
        name: 'audio in a format Gemini does not read',
        model: 'm-gemini',
        part: { type: 'input_audio', input_audio: { data: 'AAAA', format: 'midi' } },
        param: 'messages[0].content[1].input_audio.format',
      },
      {
        name: 'an image URL that is neither http(s) nor data to Gemini',
        model: 'm-gemini',
        part: { type: 'image_url', image_url: { url: 'ftp://example.com/cat.png' } },
        param: 'messages[0].content[1].image_url.url',
      },
    ])('rejects $name with a 400 naming the part, without calling the upstream', async ({ model, part, param }) => {
      const response = await postChat({
        model,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Look at this' }, part] }],
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<OpenAiErrorBody>()).toEqual({
        error: { message: expect.any(String), type: 'invalid_request_error', param, code: 'unsupported_content' },
      });
      expect(testApp.upstream.requests).toEqual([]);
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ model, status: 400, outcome: 'error', error_code: 'unsupported_content' });
    });

    it('passes the same audio part to an OpenAI upstream, which can take it', async () => {
      const response = await postChat({
        model: 'm-openai',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Listen' },
              { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            ],
          },
        ],
      });
      expect(response.statusCode).toBe(200);
      expect(testApp.upstream.requests).toHaveLength(1);
    });
  });

  describe('malformed tool data', () => {
    it.each(['m-openai', 'm-anthropic', 'm-gemini'])(
      'rejects tools[0].function.parameters that are not an object for %s',
      async (model) => {
        const response = await postChat({
          model,
          messages: [{ role: 'user', content: 'What is the weather?' }],
          tools: [{ type: 'function', function: { name: 'get_weather', parameters: 'city: string' } }],
        });
        expect(response.statusCode).toBe(400);
        expect(response.json<OpenAiErrorBody>().error).toMatchObject({
          type: 'invalid_request_error',
          param: 'tools[0].function.parameters',
        });
        expect(testApp.upstream.requests).toEqual([]);
      },
    );

    it.each(['m-openai', 'm-anthropic', 'm-gemini'])(
      'takes explicit nulls for tools and tool_choice, as OpenAI does, for %s',
      async (model) => {
        const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } };
        for (const fields of [{ tools: null }, { tool_choice: null }, { tools: [weatherTool], tool_choice: null }]) {
          const response = await postChat({ model, messages: [{ role: 'user', content: 'hello' }], ...fields });
          expect({ fields, status: response.statusCode }).toEqual({ fields, status: 200 });
        }
      },
    );

    it.each(['m-anthropic', 'm-gemini'])(
      'rejects assistant tool_call arguments that are not JSON for %s, naming them',
      async (model) => {
        const response = await postChat({
          model,
          messages: [
            { role: 'user', content: 'What is the weather?' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": Paris' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          ],
        });
        expect(response.statusCode).toBe(400);
        expect(response.json<OpenAiErrorBody>().error).toMatchObject({
          type: 'invalid_request_error',
          param: 'messages[1].tool_calls[0].function.arguments',
          code: 'unsupported_content',
        });
        expect(testApp.upstream.requests).toEqual([]);
      },
    );

    it('rejects an Anthropic tool whose input_schema is not an object, in Anthropic format', async () => {
      const response = await postMessages({
        model: 'm-gemini',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'What is the weather?' }],
        tools: [{ name: 'get_weather', input_schema: 'city: string' }],
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<AnthropicErrorBody>()).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining('tools[0].input_schema') },
      });
      expect(testApp.upstream.requests).toEqual([]);
    });
  });

  describe('Anthropic format in: errors come back in Anthropic shape', () => {
    const validRequest = { model: 'm-openai', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] };

    it.each([
      ['without max_tokens', { model: 'm-openai', messages: [{ role: 'user', content: 'hello' }] }, 'max_tokens'],
      ['with no messages', { ...validRequest, messages: [] }, 'messages'],
      ['with a system role turn', { ...validRequest, messages: [{ role: 'system', content: 'x' }] }, 'role'],
      ['with temperature above 1', { ...validRequest, temperature: 1.5 }, 'temperature'],
    ])('rejects a request %s with an invalid_request_error', async (_name, payload, field) => {
      const response = await postMessages(payload);
      expect(response.statusCode).toBe(400);
      const body = response.json<AnthropicErrorBody>();
      expect(body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
      expect(body.error.message).toContain(field);
    });

    it.each([
      {
        name: 'a plain-text document given as base64',
        content: [{ type: 'document', source: { type: 'base64', media_type: 'text/plain', data: textData } }],
      },
      {
        name: 'a tool_use block in a user turn',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }],
      },
    ])('rejects $name with a 400, not a 500', async ({ content }) => {
      const response = await postMessages({ ...validRequest, messages: [{ role: 'user', content }] });
      expect(response.statusCode).toBe(400);
      const body = response.json<AnthropicErrorBody>();
      expect(body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
      expect(testApp.upstream.requests).toEqual([]);
    });

    it('rejects a server tool (web search), which only Anthropic can run, with a 400', async () => {
      const response = await postMessages({
        ...validRequest,
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<AnthropicErrorBody>().error.type).toBe('invalid_request_error');
    });

    it('rejects an image block in an assistant turn with a 400, not a 500', async () => {
      const response = await postMessages({
        model: 'm-anthropic',
        max_tokens: 64,
        messages: [
          { role: 'user', content: 'hello' },
          {
            role: 'assistant',
            content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }],
          },
        ],
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<AnthropicErrorBody>().error.type).toBe('invalid_request_error');
    });

    it('rejects content the target provider cannot take in Anthropic shape, and records it once', async () => {
      const response = await postMessages({
        model: 'm-anthropic',
        max_tokens: 64,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: arbitraryBase64 } }],
          },
        ],
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<AnthropicErrorBody>()).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining('image/bmp') },
      });
      expect(testApp.upstream.requests).toEqual([]);
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ endpoint: 'messages', status: 400, error_code: 'unsupported_content' });
    });

    it.each([
      ['a wrong x-api-key', { 'x-api-key': 'sk-aihub-not-a-real-key-0000000000000000' }],
      ['no key at all', { 'x-api-key': '' }],
    ])('answers %s with an Anthropic authentication_error', async (_name, headers) => {
      const response = await postMessages(validRequest, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json<AnthropicErrorBody>()).toEqual({
        type: 'error',
        error: { type: 'authentication_error', message: expect.any(String) },
      });
      expect(testApp.upstream.requests).toEqual([]);
    });

    it('answers count_tokens errors in Anthropic shape too', async () => {
      const invalid = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/messages/count_tokens',
        headers: { 'x-api-key': testApp.key },
        payload: { model: 'm-openai', messages: [] },
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json<AnthropicErrorBody>().error.type).toBe('invalid_request_error');

      const unknownModel = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/messages/count_tokens',
        headers: { 'x-api-key': testApp.key },
        payload: { model: 'no-such-model', messages: [{ role: 'user', content: 'hello' }] },
      });
      expect(unknownModel.statusCode).toBe(404);
      expect(unknownModel.json<AnthropicErrorBody>()).toMatchObject({
        type: 'error',
        error: { type: 'not_found_error' },
      });
    });
  });

  describe('schema-valid-looking bodies that used to reach translation and fail there', () => {
    /** A value nested `depth` arrays deep, as JSON text (JSON.stringify itself cannot write it). */
    const nestedArrays = (depth: number) => new RawJson('['.repeat(depth) + ']'.repeat(depth));
    /** A JSON schema whose properties nest `depth` levels deep. */
    const nestedSchema = (depth: number) =>
      new RawJson('{"type":"object","properties":{"inner":'.repeat(depth) + '{"type":"string"}' + '}}'.repeat(depth));
    const user = { role: 'user', content: 'What is the weather?' };
    const assistantCall = (call: unknown) => ({ role: 'assistant', content: null, tool_calls: [call] });
    const weatherCall = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } };

    const chatCases: { name: string; models: string[]; body: Record<string, unknown>; param: string }[] = [
      {
        name: 'a function tool without its function',
        models: ['m-anthropic', 'm-gemini', 'm-openai'],
        body: { tools: [{ type: 'function' }] },
        param: 'tools[0].function',
      },
      {
        name: 'a tool without a type',
        models: ['m-anthropic', 'm-gemini'],
        body: { tools: [{ function: { name: 'f' } }] },
        param: 'tools[0].type',
      },
      {
        name: 'a function tool without a name',
        models: ['m-anthropic', 'm-gemini'],
        body: { tools: [{ type: 'function', function: {} }] },
        param: 'tools[0].function.name',
      },
      {
        name: 'tool call arguments that are a number',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [user, assistantCall({ ...weatherCall, function: { name: 'get_weather', arguments: 5 } })] },
        param: 'messages[1].tool_calls[0].function.arguments',
      },
      {
        name: 'a tool call without its function',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [user, assistantCall({ id: 'call_1', type: 'function' })] },
        param: 'messages[1].tool_calls[0].function',
      },
      {
        name: 'tool_calls that are not an array',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [user, { role: 'assistant', tool_calls: { id: 'x' } }] },
        param: 'messages[1].tool_calls',
      },
      {
        name: 'a tool call that is null',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [user, assistantCall(null)] },
        param: 'messages[1].tool_calls[0]',
      },
      {
        name: 'a custom (non-function) tool call',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [user, assistantCall({ id: 'c', type: 'custom', custom: { name: 'x', input: 'y' } })] },
        param: 'messages[1].tool_calls[0]',
      },
      {
        name: 'a json_schema response_format without its schema',
        models: ['m-anthropic', 'm-gemini'],
        body: { response_format: { type: 'json_schema' } },
        param: 'response_format.json_schema',
      },
      {
        name: 'a response_format that is a string',
        models: ['m-anthropic', 'm-gemini'],
        body: { response_format: 'json' },
        param: 'response_format',
      },
      {
        name: 'a tool_choice that is an unknown string',
        models: ['m-anthropic', 'm-gemini'],
        body: { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'sometimes' },
        param: 'tool_choice',
      },
      {
        name: 'a function tool_choice without its function',
        models: ['m-anthropic', 'm-gemini'],
        body: { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function' } },
        param: 'tool_choice.function',
      },
      {
        name: 'a text part whose text is a number',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [{ role: 'user', content: [{ type: 'text', text: 7 }] }] },
        param: 'messages[0].content[0].text',
      },
      {
        name: 'an image part without its url',
        models: ['m-anthropic', 'm-gemini'],
        body: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] },
        param: 'messages[0].content[0].image_url.url',
      },
      {
        name: 'reasoning_content that is not a string',
        models: ['m-anthropic'],
        body: { messages: [user, { role: 'assistant', content: 'x', reasoning_content: 1, reasoning_signature: 2 }] },
        param: 'messages[1].reasoning_content',
      },
      { name: 'stop that is a number', models: ['m-anthropic', 'm-gemini'], body: { stop: 5 }, param: 'stop' },
      {
        name: 'a reasoning_effort named like a prototype member',
        models: ['m-anthropic', 'm-gemini'],
        body: { reasoning_effort: 'constructor' },
        param: 'reasoning_effort',
      },
      {
        name: 'a field nested 10,000 arrays deep',
        models: ['m-openai', 'm-anthropic', 'm-gemini'],
        body: { metadata: { deep: nestedArrays(10_000) } },
        param: 'metadata.deep',
      },
      {
        name: 'a tool schema nested 3,000 levels deep',
        models: ['m-openai', 'm-anthropic', 'm-gemini'],
        body: { tools: [{ type: 'function', function: { name: 'f', parameters: nestedSchema(3000) } }] },
        param: 'tools[0].function.parameters',
      },
    ];

    it.each(chatCases.flatMap(({ models, ...rest }) => models.map((model) => ({ model, ...rest }))))(
      'answers $name for $model with an OpenAI 400 naming $param',
      async ({ model, body, param }) => {
        const response = await postChat({ model, messages: [user], ...body });
        expect(response.statusCode).toBe(400);
        const { error } = response.json<OpenAiErrorBody>();
        expect(error.type).toBe('invalid_request_error');
        expect(error.param).toEqual(expect.stringContaining(param));
        expect(testApp.upstream.requests).toEqual([]);
      },
    );

    const text = { type: 'text', text: 'hello' };
    const messagesCases: { name: string; body: Record<string, unknown>; field: string }[] = [
      {
        name: 'tool_result content that is a number',
        body: { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 5 }] }] },
        field: 'messages[0].content[0].content',
      },
      {
        name: 'tool_result content holding null',
        body: { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [null] }] }] },
        field: 'messages[0].content[0].content[0]',
      },
      {
        name: 'an image in a tool_result without a source',
        body: {
          messages: [
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image' }] }] },
          ],
        },
        field: 'messages[0].content[0].content[0].source',
      },
      {
        name: 'an image block without a source',
        body: { messages: [{ role: 'user', content: [{ type: 'image' }] }] },
        field: 'messages[0].content[0].source',
      },
      {
        name: 'a base64 image without data',
        body: {
          messages: [
            { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] },
          ],
        },
        field: 'messages[0].content[0].source.data',
      },
      {
        name: 'a document block without a source',
        body: { messages: [{ role: 'user', content: [{ type: 'document' }] }] },
        field: 'messages[0].content[0].source',
      },
      {
        name: 'a text block whose text is a number',
        body: { messages: [{ role: 'user', content: [{ type: 'text', text: 1 }] }] },
        field: 'messages[0].content[0].text',
      },
      {
        name: 'a tool_use block without input',
        body: {
          messages: [
            { role: 'user', content: [text] },
            { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f' }] },
          ],
        },
        field: 'messages[1].content[0].input',
      },
      {
        name: 'a thinking block without its signature',
        body: {
          messages: [
            { role: 'user', content: [text] },
            { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm' }] },
          ],
        },
        field: 'messages[1].content[0].signature',
      },
      { name: 'a system prompt that is a number', body: { system: 7 }, field: 'system' },
      { name: 'tools that are an object', body: { tools: {} }, field: 'tools' },
      {
        name: 'thinking enabled without a budget',
        body: { thinking: { type: 'enabled' } },
        field: 'thinking.budget_tokens',
      },
      {
        name: 'a field nested 10,000 arrays deep',
        body: { metadata: { deep: nestedArrays(10_000) } },
        field: 'metadata.deep',
      },
    ];

    it.each(
      messagesCases.flatMap((testCase) =>
        ['m-openai', 'm-anthropic', 'm-gemini'].map((model) => ({ model, ...testCase })),
      ),
    )(
      'answers $name for $model on /v1/messages with an Anthropic 400 naming $field',
      async ({ model, body, field }) => {
        const response = await postMessages({
          model,
          max_tokens: 64,
          messages: [{ role: 'user', content: 'hi' }],
          ...body,
        });
        expect(response.statusCode).toBe(400);
        const { error } = response.json<AnthropicErrorBody>();
        expect(error.type).toBe('invalid_request_error');
        expect(error.message).toContain(field);
        expect(testApp.upstream.requests).toEqual([]);
      },
    );

    it.each([
      { name: 'a system prompt that is a number', body: { system: 7 }, field: 'system' },
      { name: 'tools that are an object', body: { tools: {} }, field: 'tools' },
      { name: 'a tool that is null', body: { tools: [null] }, field: 'tools[0]' },
      { name: 'a system block that is null', body: { system: [null] }, field: 'system[0]' },
      {
        name: 'tool_result content that is a number',
        body: { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 5 }] }] },
        field: 'messages[0].content[0].content',
      },
      {
        name: 'a document without a source',
        body: { messages: [{ role: 'user', content: [{ type: 'document' }] }] },
        field: 'messages[0].content[0].source',
      },
      {
        name: 'a tool_use input nested 10,000 arrays deep',
        body: {
          messages: [
            {
              role: 'user',
              content: [{ type: 'tool_use', id: 't', name: 'f', input: { deep: nestedArrays(10_000) } }],
            },
          ],
        },
        field: 'messages[0].content[0].input.deep',
      },
    ])('answers count_tokens with $name with an Anthropic 400 naming $field', async ({ body, field }) => {
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/messages/count_tokens',
        headers: { 'x-api-key': testApp.key, 'content-type': 'application/json' },
        payload: serialize({ model: 'm-openai', messages: [{ role: 'user', content: 'hello' }], ...body }),
      });
      expect(response.statusCode).toBe(400);
      const { error } = response.json<AnthropicErrorBody>();
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toContain(field);
    });

    it('answers embeddings input nested 10,000 arrays deep with a 400 naming the limit', async () => {
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/embeddings',
        headers: testApp.headers(),
        payload: serialize({ model: 'm-openai', input: 'x', extra: nestedArrays(10_000) }),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<OpenAiErrorBody>().error).toMatchObject({
        param: expect.stringMatching(/^extra\[0\]/) as unknown,
        message: expect.stringContaining('64 levels'),
      });
    });

    it('still takes a tool schema nested as deep as real ones go, for every provider', async () => {
      for (const model of ['m-openai', 'm-anthropic', 'm-gemini']) {
        const response = await postChat({
          model,
          messages: [user],
          tools: [{ type: 'function', function: { name: 'f', parameters: nestedSchema(20) } }],
        });
        expect({ model, status: response.statusCode }).toEqual({ model, status: 200 });
      }
    });
  });

  describe('an Anthropic or Gemini upstream that breaks before answering', () => {
    it.each<{ model: string; mode: FailureMode }>([
      { model: 'm-anthropic', mode: 'garbage' },
      { model: 'm-anthropic', mode: 'truncated' },
      { model: 'm-gemini', mode: 'garbage' },
      { model: 'm-gemini', mode: 'truncated' },
    ])('answers $mode from $model with an Anthropic-shaped 502 and records it', async ({ model, mode }) => {
      testApp.upstream.setOptions({ failMode: mode });
      const response = await postMessages({ model, max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
      expect(response.statusCode).toBe(502);
      expect(response.json<AnthropicErrorBody>()).toEqual({
        type: 'error',
        error: { type: 'api_error', message: expect.any(String) },
      });
      expect(response.body).not.toContain('<html>');
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ model, status: 502, outcome: 'upstream_error', error_code: 'upstream_error' });
    });
  });

  describe('an Anthropic or Gemini upstream that breaks mid-stream, over a real socket', () => {
    const cases: Array<{ model: string; providerId: string; mode: FailureMode; status: number; code: string }> = [];
    for (const [model, providerId] of [
      ['m-anthropic', 'anthropic-mock'],
      ['m-gemini', 'gemini-mock'],
    ] as const) {
      // The upstream drops the connection: the same failure as being unable to reach it.
      cases.push({ model, providerId, mode: 'abort-mid-stream', status: 503, code: 'upstream_unavailable' });
      // The upstream ends the body cleanly, before its stream was complete.
      cases.push({ model, providerId, mode: 'truncated', status: 502, code: 'upstream_error' });
      // A data line that is not JSON.
      cases.push({ model, providerId, mode: 'garbage', status: 502, code: 'upstream_error' });
    }

    it.each(cases)(
      'OpenAI client, $mode from $model: a data error event ends the stream, one record',
      async ({ model, providerId, mode, status, code }) => {
        testApp.upstream.setOptions({ failMode: mode, chunkDelayMs: 5 });
        const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
          model,
          messages: [{ role: 'user', content: 'hello there' }],
          stream: true,
        });
        expect(response.status).toBe(200);
        expect(text).not.toContain('[DONE]');
        const events = parseSseJson(text);
        expect(events.at(-1)).toEqual({
          error: { message: expect.any(String), type: 'upstream_error', param: null, code },
        });
        expect(events.filter((event) => 'error' in event)).toHaveLength(1);
        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          model,
          provider_id: providerId,
          endpoint: 'chat.completions',
          streamed: 1,
          status,
          outcome: 'upstream_error',
          error_code: code,
        });
      },
    );

    it.each(cases)(
      'Anthropic client, $mode from $model: an error event ends the stream, one record',
      async ({ model, providerId, mode, status, code }) => {
        testApp.upstream.setOptions({ failMode: mode, chunkDelayMs: 5 });
        const { response, text } = await fetchStream(
          `${origin}/v1/messages`,
          { 'x-api-key': testApp.key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
          { model, max_tokens: 64, messages: [{ role: 'user', content: 'hello there' }], stream: true },
        );
        expect(response.status).toBe(200);
        const events = parseNamedEvents(text);
        expect(events[0]?.event).toBe('message_start');
        const names = events.map((event) => event.event);
        expect(names).not.toContain('message_stop');
        expect(names.filter((name) => name === 'error')).toHaveLength(1);
        const last = events.at(-1)!;
        expect(last.event).toBe('error');
        expect(JSON.parse(last.data)).toEqual({
          type: 'error',
          error: { type: status === 503 ? 'overloaded_error' : 'api_error', message: expect.any(String) },
        });
        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          model,
          provider_id: providerId,
          endpoint: 'messages',
          streamed: 1,
          status,
          outcome: 'upstream_error',
          error_code: code,
        });
      },
    );
  });
});

describe('an OpenAI-format upstream whose choices are not objects and who reports no usage', () => {
  let testApp: TestApp;
  let upstream: Server;
  beforeAll(async () => {
    const body = '{"id":"chatcmpl-odd","object":"chat.completion","model":"odd","choices":[null,{"index":1}]}';
    const stream =
      'data: {"id":"c","object":"chat.completion.chunk","model":"odd","choices":[null]}\n\ndata: [DONE]\n\n';
    upstream = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        const streamed = (JSON.parse(text) as { stream?: boolean }).stream === true;
        response.writeHead(200, { 'content-type': streamed ? 'text/event-stream' : 'application/json' });
        response.end(streamed ? stream : body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    testApp = await startTestApp({
      configFile: () => ({
        providers: [{ id: 'odd', type: 'openai-compatible', base_url: `http://127.0.0.1:${port}/v1` }],
        models: [{ name: 'm-odd', deployments: [{ provider: 'odd', model: 'odd' }] }],
      }),
    });
  });
  afterAll(async () => {
    await testApp.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it.each([false, true])('counts usage without failing (stream: %s)', async (stream) => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: { model: 'm-odd', messages: [{ role: 'user', content: 'hello' }], stream },
    });
    expect(response.statusCode).toBe(200);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({ outcome: 'success', usage_source: 'counted', completion_tokens: 0 });
  });
});
