import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deepNesting, mutate, mutationOf } from '../support/body-mutations.ts';
import { everyFormatConfigFile } from '../support/every-format-config.ts';
import { serialize } from '../support/raw-json.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

/**
 * Property: whatever body a client sends to any gateway endpoint, for any upstream format, the gateway answers
 * without a 5xx of its own. The mock upstream answers normally, so the only 5xx allowed are the upstream-mapped ones
 * (502/503/504 with an `upstream_*` code), and none is expected. Bodies are valid-shaped requests with 1–3 mutations
 * (wrong types, removed or extra fields, deep nesting, huge strings, prototype-like names), plus arbitrary JSON and
 * text that is not JSON. The figures are in docs/reliability.md under "Malformed input".
 */

const fuzzConfigFile = (upstreamUrl: string) => everyFormatConfigFile(upstreamUrl, { embeddings: true });

const chatModels = ['m-openai', 'm-anthropic', 'm-gemini'];
const embeddingModels = ['e-openai', 'e-gemini'];

const json = fc.jsonValue({ maxDepth: 3 });
const tagNames = fc.constantFrom(
  'text',
  'image_url',
  'image',
  'input_audio',
  'file',
  'document',
  'tool_use',
  'tool_result',
  'thinking',
  'redacted_thinking',
  'function',
  'custom',
  'json_schema',
  'json_object',
  'base64',
  'url',
  'tool',
  'any',
  'auto',
  'none',
  'required',
  'enabled',
  'user',
  'assistant',
  'system',
  'developer',
  'constructor',
  '__proto__',
  'toString',
  '',
);
const hugeString = fc.integer({ min: 10_000, max: 400_000 }).map((length) => 'x'.repeat(length));
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: json },
  { weight: 2, arbitrary: tagNames },
  { weight: 1, arbitrary: fc.constantFrom(null, 0, -1, 1.5, true, false, '', [], {}) },
  { weight: 1, arbitrary: fc.array(fc.oneof(json, fc.constant(null)), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.record({ type: tagNames }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: hugeString },
);

const png = 'data:image/png;base64,iVBORw0KGgo=';
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** Valid OpenAI chat bodies of several shapes. */
const openAiChatBody = fc.record({
  model: fc.constantFrom(...chatModels),
  messages: fc.constantFrom<unknown[]>(
    [{ role: 'user', content: 'hello' }],
    [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: png } },
        ],
      },
    ],
    [
      { role: 'user', content: 'What is the weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"sky":"clear"}' },
    ],
  ),
  stream: fc.boolean(),
  stream_options: fc.constantFrom(undefined, { include_usage: true }, { include_usage: false }),
  tools: fc.constantFrom(undefined, [weatherTool]),
  tool_choice: fc.constantFrom(undefined, 'auto', 'required', { type: 'function', function: { name: 'get_weather' } }),
  response_format: fc.constantFrom(
    undefined,
    { type: 'json_object' },
    {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } } },
    },
  ),
  temperature: fc.constantFrom(undefined, 0, 0.7, 2),
  max_tokens: fc.constantFrom(undefined, 16, 4096),
  reasoning_effort: fc.constantFrom(undefined, 'low', 'high'),
  stop: fc.constantFrom(undefined, 'END', ['a', 'b']),
});

/** Valid Anthropic Messages bodies of several shapes. */
const anthropicBody = fc.record({
  model: fc.constantFrom(...chatModels),
  max_tokens: fc.constantFrom(16, 1024),
  messages: fc.constantFrom<unknown[]>(
    [{ role: 'user', content: 'hello' }],
    [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe this' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
    ],
    [
      { role: 'user', content: 'What is the weather in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Use the tool.', signature: 'sig' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'clear' }] }],
      },
    ],
  ),
  system: fc.constantFrom(undefined, 'Be brief.', [{ type: 'text', text: 'Be brief.' }]),
  stream: fc.boolean(),
  tools: fc.constantFrom(undefined, [
    { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
  ]),
  tool_choice: fc.constantFrom(undefined, { type: 'auto' }, { type: 'tool', name: 'get_weather' }),
  thinking: fc.constantFrom(undefined, { type: 'enabled', budget_tokens: 1024 }),
  temperature: fc.constantFrom(undefined, 0, 1),
});

const embeddingsBody = fc.record({
  model: fc.constantFrom(...embeddingModels),
  input: fc.constantFrom<unknown>('hello', ['a', 'b'], [1, 2, 3], [[1, 2], [3]]),
  encoding_format: fc.constantFrom(undefined, 'float', 'base64'),
  dimensions: fc.constantFrom(undefined, 4),
});

const mutation = mutationOf(wrongValue, tagNames);

function mutated(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  return fc
    .tuple(valid, fc.array(mutation, { minLength: 0, maxLength: 3 }))
    .map(([body, mutations]) => serialize(mutate(body, mutations)));
}

/** Whole bodies that are not the right kind of thing at all. */
const strangeBody: fc.Arbitrary<string> = fc.oneof(
  json.map((value) => serialize(value)),
  fc.string({ maxLength: 40 }),
  deepNesting.map((value) => value.text),
);

interface FuzzCase {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly anthropic: boolean;
  readonly body: string | undefined;
}

/** POSTs to `url`: mostly mutated `valid` bodies, sometimes bodies that are not the right kind of thing at all. */
function postCase(
  url: string,
  valid: fc.Arbitrary<Record<string, unknown>>,
  anthropic: boolean,
): fc.Arbitrary<FuzzCase> {
  return fc
    .oneof({ weight: 6, arbitrary: mutated(valid) }, strangeBody)
    .map((body) => ({ method: 'POST' as const, url, anthropic, body }));
}

const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 5, arbitrary: postCase('/v1/chat/completions', openAiChatBody, false) },
  { weight: 5, arbitrary: postCase('/v1/messages', anthropicBody, true) },
  { weight: 2, arbitrary: postCase('/v1/messages/count_tokens', anthropicBody, true) },
  { weight: 2, arbitrary: postCase('/v1/embeddings', embeddingsBody, false) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom(...chatModels, ...embeddingModels), fc.string({ maxLength: 30 })), fc.boolean())
      .map(([model, anthropic]) => ({
        method: 'GET' as const,
        url: `/v1/models/${encodeURIComponent(model)}`,
        anthropic,
        body: undefined,
      })),
  },
);

/** Runs at least this many generated requests in total. */
const totalRuns = Number(process.env.FUZZ_RUNS ?? 10_000);

describe('gateway fuzzing: no 5xx for any body, endpoint or upstream format', () => {
  let testApp: TestApp;
  const statuses = new Map<number, number>();
  const serverErrors: { fuzzCase: FuzzCase; status: number; body: string }[] = [];
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: fuzzConfigFile, upstream: { recordRequests: false } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it(`answers ${totalRuns} generated requests without a 5xx of its own`, { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fuzzCase, async (generated) => {
        const { method, url, anthropic, body } = generated;
        const headers: Record<string, string> = anthropic
          ? { 'x-api-key': testApp.key, 'anthropic-version': '2023-06-01' }
          : { authorization: `Bearer ${testApp.key}` };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const response = await testApp.instance.app.inject({
          method,
          url,
          headers,
          ...(body === undefined ? {} : { payload: body }),
        });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode >= 500) {
          serverErrors.push({ fuzzCase: generated, status: response.statusCode, body: response.body.slice(0, 500) });
        }
        expect(response.statusCode, response.body.slice(0, 500)).toBeLessThan(500);
        if (response.statusCode >= 400 && !response.headers['content-type']?.toString().includes('event-stream')) {
          const errorBody = response.json<Record<string, unknown>>();
          if (anthropic && url.startsWith('/v1/messages')) expect(errorBody).toMatchObject({ type: 'error' });
          else expect(errorBody).toHaveProperty('error');
        }
      }),
      { numRuns: totalRuns, endOnFailure: true },
    );
    const tried = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    // Reported so the figures in docs/reliability.md can be checked against a run.
    console.info(`gateway fuzz: ${tried} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(serverErrors).toEqual([]);
    expect(tried).toBeGreaterThanOrEqual(totalRuns);
  });
});
