import Anthropic from '@anthropic-ai/sdk';
import { mockCompletionText } from '@aihub/mock-upstream';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { startTestApp, withSingleAttempt, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

/**
 * Every inbound format against every upstream format, through the official SDKs over a real socket: one gateway with
 * an OpenAI-compatible, an Anthropic and a Gemini provider, all served by the one mock. Each test checks both ends:
 * what the client SDK made of the answer, and what the upstream received in its own wire format.
 */

type UpstreamFormat = 'openai' | 'anthropic' | 'gemini';

interface UpstreamTarget {
  readonly format: UpstreamFormat;
  /** The gateway model routed to this provider. */
  readonly model: string;
  readonly providerId: string;
  readonly deploymentModel: string;
  /** Path the upstream is called on, for a plain and for a streamed request. */
  readonly path: string;
  readonly streamPath: string;
}

const upstreamTargets: readonly UpstreamTarget[] = [
  {
    format: 'openai',
    model: 'm-openai',
    providerId: 'openai-mock',
    deploymentModel: 'mock-gpt',
    path: '/v1/chat/completions',
    streamPath: '/v1/chat/completions',
  },
  {
    format: 'anthropic',
    model: 'm-anthropic',
    providerId: 'anthropic-mock',
    deploymentModel: 'claude-mock',
    path: '/v1/messages',
    streamPath: '/v1/messages',
  },
  {
    format: 'gemini',
    model: 'm-gemini',
    providerId: 'gemini-mock',
    deploymentModel: 'gemini-mock',
    path: '/v1beta/models/gemini-mock:generateContent',
    streamPath: '/v1beta/models/gemini-mock:streamGenerateContent',
  },
];

function crossFormatConfigFile(upstreamUrl: string): ConfigFile {
  const origin = new URL(upstreamUrl).origin;
  const modelFor = (target: UpstreamTarget) => ({
    name: target.model,
    pricing: { input: '1.00', output: '2.00' },
    deployments: [{ provider: target.providerId, model: target.deploymentModel }],
  });
  return {
    providers: [
      { id: 'openai-mock', type: 'openai-compatible', base_url: upstreamUrl },
      // Anthropic base URLs carry no /v1 (https://api.anthropic.com); Gemini's name the API version.
      { id: 'anthropic-mock', type: 'anthropic', base_url: origin },
      { id: 'gemini-mock', type: 'gemini', base_url: `${origin}/v1beta` },
    ],
    models: upstreamTargets.map(modelFor),
  };
}

/** The mock's default answer length: ten words, "tok0 … tok9 ". */
const mockChunks = 10;
const mockText = mockCompletionText(mockChunks);
/** For one user message "hello there", every mock route counts 1 * 10 + round(11 / 4) prompt tokens. */
const helloPromptTokens = 13;
const hello = 'hello there';

const systemPrompt = 'Answer like a pirate.';
const weatherQuestion = 'What is the weather in Paris?';
const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string', description: 'The city to look up' } },
  required: ['city'],
};
const weatherDescription = 'Look up the current weather';
const toolResultText = '{"temperature":21}';
/** A 1x1 transparent PNG. */
const pngBase64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/**
 * What each upstream must receive, in its own wire format, as partial bodies for toMatchObject. Whatever the client
 * format, the translation has to end in these shapes.
 */
interface NativeShapes {
  system(text: string): object;
  threeTurns(first: string, second: string, third: string): object;
  image(mediaType: string, data: string): object;
  weatherTool(): object;
  toolExchange(callId: string): object;
  sampling(): object;
}

const nativeShapes: Record<UpstreamFormat, NativeShapes> = {
  openai: {
    system: (text) => ({ messages: [{ role: 'system', content: text }, { role: 'user' }] }),
    threeTurns: (first, second, third) => ({
      messages: [
        { role: 'user', content: first },
        { role: 'assistant', content: second },
        { role: 'user', content: third },
      ],
    }),
    image: (mediaType, data) => ({
      messages: [
        {
          role: 'user',
          content: expect.arrayContaining([
            { type: 'image_url', image_url: { url: `data:${mediaType};base64,${data}` } },
          ]) as unknown,
        },
      ],
    }),
    weatherTool: () => ({
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', description: weatherDescription, parameters: weatherSchema },
        },
      ],
    }),
    toolExchange: (callId) => ({
      messages: [
        { role: 'user' },
        {
          role: 'assistant',
          tool_calls: [
            { id: callId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: callId, content: toolResultText },
      ],
    }),
    sampling: () => ({ stop: ['END'], temperature: 0.5, max_tokens: 64 }),
  },
  anthropic: {
    system: (text) => ({ system: text, messages: [{ role: 'user' }] }),
    threeTurns: (first, second, third) => ({
      messages: [
        { role: 'user', content: first },
        { role: 'assistant', content: second },
        { role: 'user', content: third },
      ],
    }),
    image: (mediaType, data) => ({
      messages: [
        {
          role: 'user',
          content: expect.arrayContaining([
            { type: 'image', source: { type: 'base64', media_type: mediaType, data } },
          ]) as unknown,
        },
      ],
    }),
    weatherTool: () => ({
      tools: [{ name: 'get_weather', description: weatherDescription, input_schema: weatherSchema }],
    }),
    toolExchange: (callId) => ({
      messages: [
        { role: 'user' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: callId, name: 'get_weather', input: { city: 'Paris' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: callId, content: toolResultText }] },
      ],
    }),
    sampling: () => ({ stop_sequences: ['END'], temperature: 0.5, max_tokens: 64 }),
  },
  gemini: {
    system: (text) => ({ systemInstruction: { parts: [{ text }] }, contents: [{ role: 'user' }] }),
    threeTurns: (first, second, third) => ({
      contents: [
        { role: 'user', parts: [{ text: first }] },
        { role: 'model', parts: [{ text: second }] },
        { role: 'user', parts: [{ text: third }] },
      ],
    }),
    image: (mediaType, data) => ({
      contents: [
        { role: 'user', parts: expect.arrayContaining([{ inlineData: { mimeType: mediaType, data } }]) as unknown },
      ],
    }),
    weatherTool: () => ({
      tools: [
        { functionDeclarations: [{ name: 'get_weather', description: weatherDescription, parameters: weatherSchema }] },
      ],
    }),
    // Gemini answers functions by name, not by call id: the id must have been resolved to the function's name.
    toolExchange: () => ({
      contents: [
        { role: 'user' },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temperature: 21 } } }] },
      ],
    }),
    sampling: () => ({ generationConfig: { stopSequences: ['END'], temperature: 0.5, maxOutputTokens: 64 } }),
  },
};

describe('cross-format matrix: OpenAI and Anthropic SDKs against OpenAI, Anthropic and Gemini upstreams', () => {
  let testApp: TestApp;
  let origin: string;
  let openAiClient: OpenAI;
  let anthropicClient: Anthropic;
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: (url) => withSingleAttempt(crossFormatConfigFile(url)) });
    origin = await listenOnLoopback(testApp.instance.app);
    openAiClient = new OpenAI({ apiKey: testApp.key, baseURL: `${origin}/v1`, maxRetries: 0, timeout: 5_000 });
    anthropicClient = new Anthropic({ apiKey: testApp.key, baseURL: origin, maxRetries: 0, timeout: 5_000 });
  });
  beforeEach(() => {
    testApp.upstream.clearRequests();
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined });
  });
  afterAll(async () => {
    await testApp.close();
  });

  /** The body of the one upstream call the test made, after checking it went to `path`. */
  function takeUpstreamBody(path: string): unknown {
    const requests = testApp.upstream.requests;
    expect(requests.map((request) => request.path)).toEqual([path]);
    return requests[0]!.body;
  }

  describe.each(upstreamTargets)('$format upstream', (target) => {
    const native = nativeShapes[target.format];

    describe('through the OpenAI SDK (/v1/chat/completions)', () => {
      const weatherTools: OpenAI.ChatCompletionFunctionTool[] = [
        {
          type: 'function',
          function: { name: 'get_weather', description: weatherDescription, parameters: weatherSchema },
        },
      ];

      it('answers a plain request with the upstream text, usage and one usage record', async () => {
        const { data: completion, response } = await openAiClient.chat.completions
          .create({ model: target.model, messages: [{ role: 'user', content: hello }] })
          .withResponse();
        expect(completion.object).toBe('chat.completion');
        expect(completion.choices).toHaveLength(1);
        expect(completion.choices[0]).toMatchObject({
          index: 0,
          message: { role: 'assistant', content: mockText },
          finish_reason: 'stop',
        });
        expect(completion.usage).toMatchObject({
          prompt_tokens: helloPromptTokens,
          completion_tokens: mockChunks,
          total_tokens: helloPromptTokens + mockChunks,
        });
        expect(takeUpstreamBody(target.path)).toBeDefined();

        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          deployment_model: target.deploymentModel,
          endpoint: 'chat.completions',
          streamed: 0,
          prompt_tokens: helloPromptTokens,
          completion_tokens: mockChunks,
          usage_source: 'upstream',
          status: 200,
          outcome: 'success',
        });
      });

      it('streams the text in order, with usage last when asked for, and records it', async () => {
        const { data: stream, response } = await openAiClient.chat.completions
          .create({
            model: target.model,
            messages: [{ role: 'user', content: hello }],
            stream: true,
            stream_options: { include_usage: true },
          })
          .withResponse();
        const chunks: OpenAI.ChatCompletionChunk[] = [];
        for await (const chunk of stream) chunks.push(chunk);
        const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
        expect(text).toBe(mockText);
        expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter(Boolean)).toEqual([
          'stop',
        ]);
        const last = chunks.at(-1)!;
        expect(last.choices).toEqual([]);
        expect(last.usage).toMatchObject({ prompt_tokens: helloPromptTokens, completion_tokens: mockChunks });
        takeUpstreamBody(target.streamPath);

        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          streamed: 1,
          prompt_tokens: helloPromptTokens,
          completion_tokens: mockChunks,
          usage_source: 'upstream',
          outcome: 'success',
        });
      });

      it('forwards the system prompt', async () => {
        await openAiClient.chat.completions.create({
          model: target.model,
          messages: [
            { role: 'system', content: systemPrompt },
            { role: 'user', content: hello },
          ],
        });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.system(systemPrompt));
      });

      it('forwards a multi-turn conversation in order', async () => {
        const completion = await openAiClient.chat.completions.create({
          model: target.model,
          messages: [
            { role: 'user', content: 'first question' },
            { role: 'assistant', content: 'first answer' },
            { role: 'user', content: 'second question' },
          ],
        });
        expect(completion.choices[0]?.message.content).toBe(mockText);
        expect(takeUpstreamBody(target.path)).toMatchObject(
          native.threeTurns('first question', 'first answer', 'second question'),
        );
      });

      it('sends a base64 image part in the upstream image shape', async () => {
        await openAiClient.chat.completions.create({
          model: target.model,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is in this picture?' },
                { type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64}` } },
              ],
            },
          ],
        });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.image('image/png', pngBase64));
      });

      it('translates tool definitions and returns the call as OpenAI tool_calls', async () => {
        const completion = await openAiClient.chat.completions.create({
          model: target.model,
          messages: [{ role: 'user', content: weatherQuestion }],
          tools: weatherTools,
        });
        const choice = completion.choices[0]!;
        expect(choice.finish_reason).toBe('tool_calls');
        expect(choice.message.tool_calls).toHaveLength(1);
        const call = choice.message.tool_calls![0]!;
        expect(call.type).toBe('function');
        expect(call.id).toEqual(expect.any(String));
        if (call.type !== 'function') throw new Error('expected a function call');
        expect(call.function.name).toBe('get_weather');
        expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.weatherTool());
      });

      it('streams a tool call as deltas that add up to the call', async () => {
        const stream = await openAiClient.chat.completions.create({
          model: target.model,
          messages: [{ role: 'user', content: weatherQuestion }],
          tools: weatherTools,
          stream: true,
        });
        const calls = new Map<number, { id: string; name: string; arguments: string }>();
        const finishReasons: string[] = [];
        for await (const chunk of stream) {
          for (const choice of chunk.choices) {
            if (choice.finish_reason) finishReasons.push(choice.finish_reason);
            for (const delta of choice.delta.tool_calls ?? []) {
              const call = calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
              call.id += delta.id ?? '';
              call.name += delta.function?.name ?? '';
              call.arguments += delta.function?.arguments ?? '';
              calls.set(delta.index, call);
            }
          }
        }
        expect([...calls.keys()]).toEqual([0]);
        const call = calls.get(0)!;
        expect(call.id).not.toBe('');
        expect(call.name).toBe('get_weather');
        expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
        expect(finishReasons).toEqual(['tool_calls']);
        expect(takeUpstreamBody(target.streamPath)).toMatchObject(native.weatherTool());
      });

      it('sends a tool result turn back in the upstream tool-result shape', async () => {
        const completion = await openAiClient.chat.completions.create({
          model: target.model,
          tools: weatherTools,
          messages: [
            { role: 'user', content: weatherQuestion },
            {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_42', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_42', content: toolResultText },
          ],
        });
        // The mocks end a tool loop once the latest turn is a tool result.
        expect(completion.choices[0]).toMatchObject({ message: { content: mockText }, finish_reason: 'stop' });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.toolExchange('call_42'));
      });

      it('maps stop sequences, temperature and max tokens', async () => {
        await openAiClient.chat.completions.create({
          model: target.model,
          messages: [{ role: 'user', content: hello }],
          stop: ['END'],
          temperature: 0.5,
          max_tokens: 64,
        });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.sampling());
      });

      it('surfaces an upstream 500 as InternalServerError 502 and records it', async () => {
        testApp.upstream.setOptions({ failMode: '500' });
        const error = await openAiClient.chat.completions
          .create({ model: target.model, messages: [{ role: 'user', content: hello }] })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(OpenAI.InternalServerError);
        expect(error).toMatchObject({ status: 502, code: 'upstream_error:500', type: 'upstream_error' });
        const requestId = (error as InstanceType<typeof OpenAI.InternalServerError>).headers.get('x-request-id')!;
        const record = await flushAndFindOnlyRecord(testApp, requestId);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          status: 502,
          outcome: 'upstream_error',
          error_code: 'upstream_error:500',
        });
      });

      it('surfaces an upstream 429 as RateLimitError', async () => {
        testApp.upstream.setOptions({ failMode: '429' });
        const error = await openAiClient.chat.completions
          .create({ model: target.model, messages: [{ role: 'user', content: hello }] })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(OpenAI.RateLimitError);
        expect(error).toMatchObject({ status: 429, code: 'upstream_rate_limited:429', type: 'rate_limit_error' });
      });
    });

    describe('through the Anthropic SDK (/v1/messages)', () => {
      const weatherTools: Anthropic.Tool[] = [
        {
          name: 'get_weather',
          description: weatherDescription,
          input_schema: weatherSchema as Anthropic.Tool.InputSchema,
        },
      ];

      it('answers a plain request with an Anthropic message, usage and one usage record', async () => {
        const { data: message, response } = await anthropicClient.messages
          .create({ model: target.model, max_tokens: 256, messages: [{ role: 'user', content: hello }] })
          .withResponse();
        expect(message).toMatchObject({
          type: 'message',
          role: 'assistant',
          model: target.model,
          content: [{ type: 'text', text: mockText }],
          stop_reason: 'end_turn',
          usage: { input_tokens: helloPromptTokens, output_tokens: mockChunks },
        });
        expect(message.id).toMatch(/^msg_/);
        expect(takeUpstreamBody(target.path)).toBeDefined();

        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          deployment_model: target.deploymentModel,
          endpoint: 'messages',
          streamed: 0,
          prompt_tokens: helloPromptTokens,
          completion_tokens: mockChunks,
          usage_source: 'upstream',
          status: 200,
          outcome: 'success',
        });
      });

      it('streams the documented event sequence, and finalMessage() holds the text and usage', async () => {
        const stream = anthropicClient.messages.stream({
          model: target.model,
          max_tokens: 256,
          messages: [{ role: 'user', content: hello }],
        });
        const eventTypes: string[] = [];
        let text = '';
        for await (const event of stream) {
          eventTypes.push(event.type);
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
        }
        expect(text).toBe(mockText);
        expect(eventTypes[0]).toBe('message_start');
        expect(eventTypes[1]).toBe('content_block_start');
        expect(eventTypes.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
        const message = await stream.finalMessage();
        expect(message).toMatchObject({
          model: target.model,
          content: [{ type: 'text', text: mockText }],
          stop_reason: 'end_turn',
          usage: { input_tokens: helloPromptTokens, output_tokens: mockChunks },
        });
        takeUpstreamBody(target.streamPath);

        const requestId = (await stream.withResponse()).response.headers.get('x-request-id')!;
        const record = await flushAndFindOnlyRecord(testApp, requestId);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          endpoint: 'messages',
          streamed: 1,
          prompt_tokens: helloPromptTokens,
          completion_tokens: mockChunks,
          outcome: 'success',
        });
      });

      it('forwards the system prompt', async () => {
        await anthropicClient.messages.create({
          model: target.model,
          max_tokens: 256,
          system: systemPrompt,
          messages: [{ role: 'user', content: hello }],
        });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.system(systemPrompt));
      });

      it('forwards a multi-turn conversation in order', async () => {
        const message = await anthropicClient.messages.create({
          model: target.model,
          max_tokens: 256,
          messages: [
            { role: 'user', content: 'first question' },
            { role: 'assistant', content: 'first answer' },
            { role: 'user', content: 'second question' },
          ],
        });
        expect(message.content).toEqual([{ type: 'text', text: mockText }]);
        expect(takeUpstreamBody(target.path)).toMatchObject(
          native.threeTurns('first question', 'first answer', 'second question'),
        );
      });

      it('sends a base64 image block in the upstream image shape', async () => {
        await anthropicClient.messages.create({
          model: target.model,
          max_tokens: 256,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngBase64 } },
                { type: 'text', text: 'What is in this picture?' },
              ],
            },
          ],
        });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.image('image/png', pngBase64));
      });

      it('translates tool definitions and returns the call as a tool_use block', async () => {
        const message = await anthropicClient.messages.create({
          model: target.model,
          max_tokens: 256,
          messages: [{ role: 'user', content: weatherQuestion }],
          tools: weatherTools,
        });
        expect(message.stop_reason).toBe('tool_use');
        const toolUses = message.content.filter((block) => block.type === 'tool_use');
        expect(toolUses).toEqual([
          { type: 'tool_use', id: expect.any(String), name: 'get_weather', input: { city: 'Paris' } },
        ]);
        expect(takeUpstreamBody(target.path)).toMatchObject(native.weatherTool());
      });

      it('streams a tool call that finalMessage() assembles into a tool_use block', async () => {
        const stream = anthropicClient.messages.stream({
          model: target.model,
          max_tokens: 256,
          messages: [{ role: 'user', content: weatherQuestion }],
          tools: weatherTools,
        });
        const message = await stream.finalMessage();
        expect(message.stop_reason).toBe('tool_use');
        const toolUses = message.content.filter((block) => block.type === 'tool_use');
        expect(toolUses).toEqual([
          { type: 'tool_use', id: expect.any(String), name: 'get_weather', input: { city: 'Paris' } },
        ]);
        expect(takeUpstreamBody(target.streamPath)).toMatchObject(native.weatherTool());
      });

      it('sends a tool_result turn back in the upstream tool-result shape', async () => {
        const message = await anthropicClient.messages.create({
          model: target.model,
          max_tokens: 256,
          tools: weatherTools,
          messages: [
            { role: 'user', content: weatherQuestion },
            {
              role: 'assistant',
              content: [{ type: 'tool_use', id: 'toolu_42', name: 'get_weather', input: { city: 'Paris' } }],
            },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_42', content: toolResultText }] },
          ],
        });
        expect(message).toMatchObject({ content: [{ type: 'text', text: mockText }], stop_reason: 'end_turn' });
        expect(takeUpstreamBody(target.path)).toMatchObject(native.toolExchange('toolu_42'));
      });

      it('maps stop sequences, temperature and max tokens', async () => {
        // This SDK release no longer types `temperature`; clients on earlier releases send it, and the API takes it.
        const request: Anthropic.MessageCreateParamsNonStreaming & { temperature: number } = {
          model: target.model,
          max_tokens: 64,
          stop_sequences: ['END'],
          temperature: 0.5,
          messages: [{ role: 'user', content: hello }],
        };
        await anthropicClient.messages.create(request);
        expect(takeUpstreamBody(target.path)).toMatchObject(native.sampling());
      });

      it('surfaces an upstream 500 as an APIError with status 502 and an Anthropic error body', async () => {
        testApp.upstream.setOptions({ failMode: '500' });
        const error = await anthropicClient.messages
          .create({ model: target.model, max_tokens: 256, messages: [{ role: 'user', content: hello }] })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(Anthropic.APIError);
        expect(error).toBeInstanceOf(Anthropic.InternalServerError);
        expect(error).toMatchObject({
          status: 502,
          error: { type: 'error', error: { type: 'api_error', message: expect.any(String) } },
        });
        const requestId = (error as InstanceType<typeof Anthropic.APIError>).headers!.get('x-request-id')!;
        const record = await flushAndFindOnlyRecord(testApp, requestId);
        expect(record).toMatchObject({
          model: target.model,
          provider_id: target.providerId,
          endpoint: 'messages',
          status: 502,
          outcome: 'upstream_error',
        });
      });

      it('surfaces an upstream 429 as RateLimitError', async () => {
        testApp.upstream.setOptions({ failMode: '429' });
        const error = await anthropicClient.messages
          .create({ model: target.model, max_tokens: 256, messages: [{ role: 'user', content: hello }] })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(Anthropic.RateLimitError);
        expect(error).toMatchObject({ status: 429, error: { type: 'error', error: { type: 'rate_limit_error' } } });
      });

      it('counts tokens without calling the upstream', async () => {
        const counted = await anthropicClient.messages.countTokens({
          model: target.model,
          system: systemPrompt,
          messages: [{ role: 'user', content: hello }],
        });
        expect(counted.input_tokens).toBeGreaterThan(0);
        expect(testApp.upstream.requests).toEqual([]);
      });
    });
  });

  it('lists the models in the Anthropic format through the Anthropic SDK', async () => {
    const models: Anthropic.ModelInfo[] = [];
    for await (const model of anthropicClient.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual(upstreamTargets.map((target) => target.model));
    for (const model of models) {
      expect(model).toMatchObject({ type: 'model', display_name: model.id });
      expect(Number.isNaN(Date.parse(model.created_at))).toBe(false);
    }
  });
});
