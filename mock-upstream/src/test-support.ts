/** Shared by the mock's own tests: request helpers, wire shapes, and an SSE reader that keeps what arrived before a failure. */
import type { OpenAIErrorObject } from './openai-error.ts';
import type { ChatUsage } from './usage.ts';

/** The parts of each wire body the tests read; `readJson` trusts the mock to send them. */
export interface ErrorBody {
  error: OpenAIErrorObject;
}

export interface ToolCallBody {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

export interface ToolCallDeltaBody {
  index: number;
  id?: string;
  type?: string;
  function: { name?: string; arguments: string };
}

export interface ChatCompletionBody {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string | null; tool_calls?: ToolCallBody[] };
    finish_reason: string;
  }>;
  usage?: ChatUsage;
}

export interface ChatCompletionChunkBody {
  id: string;
  object: string;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: string; content?: string | null; tool_calls?: ToolCallDeltaBody[] };
    finish_reason: string | null;
  }>;
  usage?: ChatUsage | null;
}

export interface EmbeddingListBody {
  object: string;
  model: string;
  data: Array<{ object: string; index: number; embedding: number[] | string }>;
  usage?: { prompt_tokens: number; total_tokens: number };
}

export interface ModelBody {
  id: string;
  object: string;
  created: number;
  owned_by: string;
}

export interface ModelListBody {
  object: string;
  data: ModelBody[];
}

export async function readJson<Body>(response: Response): Promise<Body> {
  return (await response.json()) as Body;
}

export function parseChunk(dataLine: string): ChatCompletionChunkBody {
  return JSON.parse(dataLine) as ChatCompletionChunkBody;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export function chatRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'mock-gpt', messages: [{ role: 'user', content: 'Hello there!' }], ...overrides };
}

export interface SseReadResult {
  /** The payload of every complete `data:` line, in order. */
  dataLines: string[];
  /** The error that stopped the read, if the connection broke. */
  error: unknown;
}

export async function readSse(response: Response): Promise<SseReadResult> {
  let text = '';
  let error: unknown;
  const decoder = new TextDecoder();
  try {
    if (response.body !== null) {
      for await (const chunk of response.body as ReadableStream<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
      }
    }
  } catch (caught) {
    error = caught;
  }
  const dataLines = text
    .split('\n\n')
    .slice(0, -1)
    .map((event) => event.replace(/^data: /, ''));
  return { dataLines, error };
}
