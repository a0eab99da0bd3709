import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstreamHandle } from '../server.ts';
import { postJson, readJson } from '../test-support.ts';
import { countChatPromptTokens } from '../token-counting.ts';
import { mockToolUseOutputTokens } from './messages.ts';

interface MessageBody {
  id: string;
  type: string;
  role: string;
  model: string;
  content: Array<Record<string, unknown>>;
  stop_reason: string;
  stop_sequence: null;
  usage: { input_tokens: number; output_tokens: number };
}

interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

interface StreamEvent {
  name: string;
  data: Record<string, unknown> & { type: string };
}

/** Reads a whole Anthropic stream: `event:` and `data:` lines per event; the name must match the data's type. */
async function readEvents(response: Response): Promise<{ events: StreamEvent[]; error: unknown }> {
  let text = '';
  let error: unknown;
  try {
    text = await response.text();
  } catch (caught) {
    error = caught;
  }
  const events = text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const lines = block.split('\n');
      const name = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? '';
      const data = lines.find((line) => line.startsWith('data: '))?.slice(6) ?? '';
      return { name, data: JSON.parse(data) as StreamEvent['data'] };
    });
  return { events, error };
}

const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather',
  input_schema: { type: 'object', properties: { city: { type: 'string' } } },
};

function messagesRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'claude-mock', max_tokens: 256, messages: [{ role: 'user', content: 'Hello there!' }], ...overrides };
}

describe('POST /v1/messages (Anthropic wire format)', () => {
  let upstream: MockUpstreamHandle;
  let messagesUrl: string;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 3 });
    messagesUrl = `${upstream.url}/messages`;
  });
  afterAll(() => upstream.close());

  it('answers with an Anthropic message echoing the model, usage counted like the OpenAI route', async () => {
    const response = await postJson(messagesUrl, messagesRequest({ system: 'Be brief.' }));
    expect(response.status).toBe(200);
    const message = await readJson<MessageBody>(response);
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-mock',
      content: [{ type: 'text', text: 'tok0 tok1 tok2 ' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: countChatPromptTokens([{ content: 'Be brief.' }, { role: 'user', content: 'Hello there!' }]),
        output_tokens: 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    expect(message.id).toMatch(/^msg_mock_\d+$/);
  });

  it('streams the documented event sequence', async () => {
    const response = await postJson(messagesUrl, messagesRequest({ stream: true }), { 'x-mock-chunks': '2' });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const { events, error } = await readEvents(response);
    expect(error).toBeUndefined();
    for (const event of events) expect(event.name).toBe(event.data.type);
    expect(events.map((event) => event.name)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]!.data).toMatchObject({
      message: { model: 'claude-mock', content: [], stop_reason: null, usage: { input_tokens: 13, output_tokens: 0 } },
    });
    expect(events.slice(3, 5).map((event) => event.data)).toEqual([
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tok0 ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tok1 ' } },
    ]);
    expect(events[6]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 2 },
    });
  });

  it('reports prompt-cache reads and writes apart from input_tokens when told to, by option or header', async () => {
    const headers = { 'x-mock-cache-read-tokens': '1200', 'x-mock-cache-write-tokens': '300' };
    const message = await readJson<MessageBody>(await postJson(messagesUrl, messagesRequest(), headers));
    expect(message.usage).toEqual({
      input_tokens: 13,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 1200,
      output_tokens: 3,
    });

    upstream.setOptions({ cacheWriteTokens: 50 });
    try {
      const streamed = await readEvents(await postJson(messagesUrl, messagesRequest({ stream: true })));
      expect(streamed.events[0]!.data).toMatchObject({
        message: { usage: { input_tokens: 13, cache_creation_input_tokens: 50, cache_read_input_tokens: 0 } },
      });
    } finally {
      upstream.setOptions({ cacheWriteTokens: undefined });
    }
  });

  it('calls the first tool when tools are offered and the last user text asks about the weather', async () => {
    const body = messagesRequest({
      tools: [weatherTool, { name: 'other', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is the Weather in Paris?' }] }],
    });
    const message = await readJson<MessageBody>(await postJson(messagesUrl, body));
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      {
        type: 'tool_use',
        id: expect.stringMatching(/^toolu_mock_\d+$/),
        name: 'get_weather',
        input: { city: 'Paris' },
      },
    ]);
    expect(message.usage.output_tokens).toBe(mockToolUseOutputTokens);
  });

  it('streams the tool call as input_json_delta fragments', async () => {
    const body = messagesRequest({
      stream: true,
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'weather please' }],
    });
    const { events } = await readEvents(await postJson(messagesUrl, body));
    expect(events[1]!.data).toMatchObject({ content_block: { type: 'tool_use', name: 'get_weather', input: {} } });
    const json = events
      .filter((event) => event.name === 'content_block_delta')
      .map((event) => (event.data['delta'] as { partial_json: string }).partial_json)
      .join('');
    expect(JSON.parse(json)).toEqual({ city: 'Paris' });
    expect(events.find((event) => event.name === 'message_delta')!.data).toMatchObject({
      delta: { stop_reason: 'tool_use' },
      usage: { output_tokens: mockToolUseOutputTokens },
    });
  });

  it('answers in text once the last user turn holds only tool results, or when no tools are offered', async () => {
    const afterTool = messagesRequest({
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    expect((await readJson<MessageBody>(await postJson(messagesUrl, afterTool))).stop_reason).toBe('end_turn');
    const noTools = messagesRequest({ messages: [{ role: 'user', content: 'weather?' }] });
    expect((await readJson<MessageBody>(await postJson(messagesUrl, noTools))).stop_reason).toBe('end_turn');
  });

  it.each([
    ['without max_tokens', { model: 'claude-mock', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    ['without a model', { max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, 'model'],
    ['with no messages', { model: 'claude-mock', max_tokens: 5, messages: [] }, 'messages'],
  ])('rejects a request %s with an Anthropic-shaped 400', async (_name, body, field) => {
    const response = await postJson(messagesUrl, body);
    expect(response.status).toBe(400);
    const error = await readJson<AnthropicErrorBody>(response);
    expect(error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(error.error.message.startsWith(field)).toBe(true);
  });

  it('cuts a stream before message_stop in truncated mode', async () => {
    const response = await postJson(messagesUrl, messagesRequest({ stream: true }), { 'x-mock-fail': 'truncated' });
    const { events, error } = await readEvents(response);
    expect(error).toBeUndefined();
    expect(events[0]!.name).toBe('message_start');
    expect(events.map((event) => event.name)).not.toContain('message_stop');
  });

  it('breaks the connection mid-stream in abort-mid-stream mode', async () => {
    const response = await postJson(messagesUrl, messagesRequest({ stream: true }), {
      'x-mock-fail': 'abort-mid-stream',
      'x-mock-chunk-delay-ms': '5',
    });
    const { error } = await readEvents(response);
    expect(error).toBeDefined();
  });

  it('sends a data line that is not JSON in garbage mode', async () => {
    const response = await postJson(messagesUrl, messagesRequest({ stream: true }), { 'x-mock-fail': 'garbage' });
    const text = await response.text();
    expect(text.startsWith('event: message_start\n')).toBe(true);
    expect(text).toContain('data: {"choices": [ this is not json');
  });
});
