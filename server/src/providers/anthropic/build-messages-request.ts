import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  FunctionTool,
  ResponseFormat,
  ToolCall,
  ToolChoice,
} from '../spec/openai-types.ts';
import { UnsupportedRequest } from '../spec/provider-adapter.ts';
import { ownEntry } from '../spec/own-entry.ts';
import { minimumThinkingBudget, thinkingBudgetByEffort } from './anthropic-mappings.ts';
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicMessagesRequest,
  AnthropicTextBlock,
  AnthropicThinkingConfig,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
} from './anthropic-types.ts';

/** Anthropic requires max_tokens; OpenAI clients usually leave it out. */
export const defaultMaxTokens = 4096;

/** Request fields this translation reads; any other field with a value is reported as dropped. */
const translatedFields = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'stop',
  'temperature',
  'top_p',
  'top_k',
  'max_tokens',
  'max_completion_tokens',
  'reasoning_effort',
  'n',
  'user',
]);

const imageMediaTypes = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export interface BuiltMessagesRequest {
  readonly body: AnthropicMessagesRequest;
  readonly droppedParameters: string[];
}

/** Internal (OpenAI-shaped) chat request → Anthropic Messages request. Throws UnsupportedRequest naming the field. */
export function buildMessagesRequest(request: ChatRequest, upstreamModel: string): BuiltMessagesRequest {
  if (request.n !== undefined && request.n !== null && request.n !== 1) {
    throw new UnsupportedRequest('Anthropic returns a single choice; n must be 1', 'n');
  }
  const droppedParameters = Object.keys(request).filter(
    (field) => !translatedFields.has(field) && request[field] !== undefined && request[field] !== null,
  );
  const { system, messages } = convertMessages(request.messages);
  const formatInstruction = responseFormatInstruction(request.response_format);
  if (formatInstruction) system.push({ type: 'text', text: formatInstruction });

  // OpenAI takes an explicit null for both fields (clients serialising None send it); it asks for nothing.
  const hasTools = Array.isArray(request.tools) && request.tools.length > 0;
  const toolChoice = hasTools ? convertToolChoice(request.tool_choice, request.parallel_tool_calls) : undefined;
  if (!hasTools && request.tool_choice !== undefined && request.tool_choice !== null)
    droppedParameters.push('tool_choice');

  const forcesTool = toolChoice?.type === 'any' || toolChoice?.type === 'tool';
  const effortBudget = thinkingBudgetFor(request.reasoning_effort);
  const requestedMaxTokens = request.max_completion_tokens ?? request.max_tokens;
  // Thinking spends max_tokens too, so the default leaves the usual room for the answer on top of the budget.
  const maxTokens = requestedMaxTokens ?? defaultMaxTokens + (forcesTool ? 0 : effortBudget);
  const thinking = resolveThinking(effortBudget, maxTokens, forcesTool);
  if (effortBudget > 0 && thinking === undefined) droppedParameters.push('reasoning_effort');

  const body: AnthropicMessagesRequest = { model: upstreamModel, max_tokens: maxTokens, messages };
  if (system.length > 0) body.system = system.length === 1 && system[0] ? system[0].text : system;
  if (thinking) body.thinking = thinking;
  Object.assign(body, samplingParameters(request, thinking !== undefined, droppedParameters));
  if (hasTools) body.tools = request.tools?.map(convertTool);
  if (toolChoice) body.tool_choice = toolChoice;
  const stopSequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (stopSequences && stopSequences.length > 0) body.stop_sequences = stopSequences;
  if (request.user) body.metadata = { user_id: request.user };
  if (request.stream) body.stream = true;
  return { body, droppedParameters };
}

/**
 * OpenAI's temperature runs 0..2, Anthropic's 0..1. Both default to 1 (the model's own distribution), so values map
 * one to one and anything above 1 is clamped to 1 rather than rescaled, which would make the default colder.
 * Thinking accepts neither temperature nor top_k, and top_p only from 0.95 up; those are dropped and reported.
 */
function samplingParameters(
  request: ChatRequest,
  thinking: boolean,
  droppedParameters: string[],
): Pick<AnthropicMessagesRequest, 'temperature' | 'top_p' | 'top_k'> {
  const sampling: Pick<AnthropicMessagesRequest, 'temperature' | 'top_p' | 'top_k'> = {};
  const { temperature, top_p: topP, top_k: topK } = request;
  if (typeof temperature === 'number') {
    if (thinking) droppedParameters.push('temperature');
    else sampling.temperature = Math.min(temperature, 1);
  }
  if (typeof topP === 'number') {
    if (thinking && topP < 0.95) droppedParameters.push('top_p');
    else sampling.top_p = topP;
  }
  if (typeof topK === 'number') {
    if (thinking) droppedParameters.push('top_k');
    else sampling.top_k = topK;
  }
  return sampling;
}

function thinkingBudgetFor(effort: ChatRequest['reasoning_effort']): number {
  if (effort === undefined || effort === null) return 0;
  const budget = ownEntry(thinkingBudgetByEffort, effort);
  if (budget === undefined) {
    const known = Object.keys(thinkingBudgetByEffort).join(', ');
    throw new UnsupportedRequest(`reasoning_effort must be one of ${known}`, 'reasoning_effort');
  }
  return budget;
}

/**
 * The budget must stay below max_tokens (which counts thinking) and at or above Anthropic's minimum; Anthropic also
 * refuses thinking together with a forced tool. In those cases thinking is left off and reasoning_effort reported.
 */
function resolveThinking(budget: number, maxTokens: number, forcesTool: boolean): AnthropicThinkingConfig | undefined {
  if (budget === 0 || forcesTool) return undefined;
  const budgetTokens = Math.min(budget, maxTokens - 1);
  return budgetTokens < minimumThinkingBudget ? undefined : { type: 'enabled', budget_tokens: budgetTokens };
}

/**
 * Anthropic has no response_format in the 2023-06-01 API, so JSON output is asked for in the system prompt (with the
 * schema for json_schema). A forced tool call would enforce the schema harder but turns the answer into tool_calls,
 * which then has to be rewritten back into content, stream included; the instruction keeps the answer a plain text.
 */
function responseFormatInstruction(format: ResponseFormat | null | undefined): string | undefined {
  if (format === undefined || format === null || format.type === 'text') return undefined;
  // Types newer than this translation (the schema lets only known ones in; direct callers may not).
  const type: unknown = format.type;
  if (type !== 'json_object' && type !== 'json_schema') {
    throw new UnsupportedRequest(`response_format '${String(type)}' cannot be sent to Anthropic`, 'response_format');
  }
  const base = 'Respond with one valid JSON object and nothing else: no prose before or after it, no Markdown fences.';
  if (format.type === 'json_object') return base;
  const { name, description, schema } = format.json_schema;
  const about = description ? ` (${description})` : '';
  return `${base}\nThe object must conform to the JSON Schema "${name}"${about}:\n${JSON.stringify(schema ?? {})}`;
}

/**
 * System and developer messages become the top-level system prompt wherever they stand (Anthropic has no system
 * turns). Tool results travel as user messages; consecutive messages of one role are merged into one, because
 * Anthropic requires user and assistant turns to alternate. Empty text is left out, as Anthropic rejects it.
 */
function convertMessages(chatMessages: readonly ChatMessage[]): {
  system: AnthropicTextBlock[];
  messages: AnthropicMessage[];
} {
  const system: AnthropicTextBlock[] = [];
  const turns: { role: 'user' | 'assistant'; blocks: AnthropicContentBlock[] }[] = [];
  const append = (role: 'user' | 'assistant', blocks: AnthropicContentBlock[]): void => {
    if (blocks.length === 0) return;
    const previous = turns.at(-1);
    if (previous?.role === role) previous.blocks.push(...blocks);
    else turns.push({ role, blocks });
  };

  chatMessages.forEach((message, index) => {
    const path = `messages[${index}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...systemBlocks(message.content, path));
        break;
      case 'user':
        append('user', userBlocks(message.content, path));
        break;
      case 'assistant':
        append('assistant', assistantBlocks(message, path));
        break;
      case 'tool':
        append('user', [toolResultBlock(message, path)]);
        break;
      default:
        throw new UnsupportedRequest(`Anthropic has no '${message.role}' role`, `${path}.role`);
    }
  });
  return { system, messages: turns.map(({ role, blocks }) => ({ role, content: simplifyContent(blocks) })) };
}

/** A lone plain text block is sent as a string, the form most Anthropic examples and logs use. */
function simplifyContent(blocks: AnthropicContentBlock[]): string | AnthropicContentBlock[] {
  const [first] = blocks;
  return blocks.length === 1 && first?.type === 'text' ? first.text : blocks;
}

function systemBlocks(content: ChatMessage['content'], path: string): AnthropicTextBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return (content ?? []).flatMap((part, index) => {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      throw new UnsupportedRequest('system messages can only hold text for Anthropic', `${path}.content[${index}]`);
    }
    return part.text === '' ? [] : [{ type: 'text' as const, text: part.text }];
  });
}

function userBlocks(content: ChatMessage['content'], path: string): AnthropicContentBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return (content ?? []).flatMap((part, index) => userPartBlocks(part, `${path}.content[${index}]`));
}

function userPartBlocks(part: ContentPart, path: string): AnthropicContentBlock[] {
  switch (part.type) {
    case 'text':
      return typeof part.text === 'string' && part.text !== '' ? [{ type: 'text', text: part.text }] : [];
    case 'image_url':
      return [imageBlock(part, path)];
    case 'file':
      return [documentBlock(part, path)];
    default:
      throw new UnsupportedRequest(`content of type '${part.type}' cannot be sent to Anthropic`, path);
  }
}

function imageBlock(part: ContentPart, path: string): AnthropicImageBlock {
  const imageUrl = part.image_url as { url?: unknown } | undefined;
  const url = typeof imageUrl?.url === 'string' ? imageUrl.url : '';
  const dataUrl = parseBase64DataUrl(url);
  if (dataUrl) {
    if (!imageMediaTypes.has(dataUrl.mediaType)) {
      throw new UnsupportedRequest(`Anthropic takes JPEG, PNG, GIF or WebP images, not ${dataUrl.mediaType}`, path);
    }
    return { type: 'image', source: { type: 'base64', media_type: dataUrl.mediaType, data: dataUrl.data } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new UnsupportedRequest('image_url must be an http(s) URL or a base64 data URL', path);
}

/** OpenAI's file part carries PDFs inline as a data URL; uploaded file ids mean nothing to Anthropic. */
function documentBlock(part: ContentPart, path: string): AnthropicDocumentBlock {
  const file = part.file as { file_data?: unknown; filename?: unknown } | undefined;
  const dataUrl = typeof file?.file_data === 'string' ? parseBase64DataUrl(file.file_data) : undefined;
  if (dataUrl?.mediaType !== 'application/pdf') {
    throw new UnsupportedRequest('only PDF files given inline as file_data can be sent to Anthropic', path);
  }
  const block: AnthropicDocumentBlock = {
    type: 'document',
    source: { type: 'base64', media_type: 'application/pdf', data: dataUrl.data },
  };
  if (typeof file?.filename === 'string') block.title = file.filename;
  return block;
}

function parseBase64DataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return match?.[1] && match[2] !== undefined ? { mediaType: match[1].toLowerCase(), data: match[2] } : undefined;
}

/**
 * Thinking goes first, as Anthropic produced it. Reasoning without a signature (from another provider) cannot be
 * replayed as a thinking block, which Anthropic verifies, and is left out.
 */
function assistantBlocks(message: ChatMessage, path: string): AnthropicContentBlock[] {
  const blocks: AnthropicContentBlock[] = [];
  if (message.reasoning_content && message.reasoning_signature) {
    blocks.push({ type: 'thinking', thinking: message.reasoning_content, signature: message.reasoning_signature });
  }
  const { content } = message;
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else {
    (content ?? []).forEach((part, index) => {
      const text = part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined;
      if (typeof text !== 'string') {
        throw new UnsupportedRequest('assistant content can only hold text for Anthropic', `${path}.content[${index}]`);
      }
      if (text !== '') blocks.push({ type: 'text', text });
    });
  }
  (message.tool_calls ?? []).forEach((call, index) => blocks.push(toolUseBlock(call, `${path}.tool_calls[${index}]`)));
  return blocks;
}

function toolUseBlock(call: ToolCall, path: string): AnthropicToolUseBlock {
  // OpenAI's custom tool calls carry free text, not a function with JSON arguments; Anthropic has no such call.
  if (call.type !== 'function' && call.type !== undefined) {
    throw new UnsupportedRequest(`tool calls of type '${String(call.type)}' cannot be sent to Anthropic`, path);
  }
  const argumentsText = call.function.arguments.trim() === '' ? '{}' : call.function.arguments;
  let input: unknown;
  try {
    input = JSON.parse(argumentsText);
  } catch {
    throw new UnsupportedRequest('tool call arguments are not valid JSON', `${path}.function.arguments`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new UnsupportedRequest('tool call arguments must be a JSON object', `${path}.function.arguments`);
  }
  return { type: 'tool_use', id: call.id, name: call.function.name, input: input as Record<string, unknown> };
}

function toolResultBlock(message: ChatMessage, path: string): AnthropicToolResultBlock {
  if (typeof message.tool_call_id !== 'string' || message.tool_call_id === '') {
    throw new UnsupportedRequest('tool messages need a tool_call_id', `${path}.tool_call_id`);
  }
  const block: AnthropicToolResultBlock = { type: 'tool_result', tool_use_id: message.tool_call_id };
  const { content } = message;
  if (typeof content === 'string') {
    if (content !== '') block.content = content;
  } else if (content && content.length > 0) {
    block.content = content.map((part, index) => {
      const partPath = `${path}.content[${index}]`;
      if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
      if (part.type === 'image_url') return imageBlock(part, partPath);
      throw new UnsupportedRequest('tool results can only hold text and images for Anthropic', partPath);
    });
  }
  return block;
}

function convertTool(tool: FunctionTool, index: number): AnthropicTool {
  if (tool.type !== 'function') {
    throw new UnsupportedRequest(`tools of type '${String(tool.type)}' cannot be sent to Anthropic`, `tools[${index}]`);
  }
  const { name, description, parameters } = tool.function;
  const converted: AnthropicTool = { name, input_schema: parameters ?? { type: 'object', properties: {} } };
  if (description) converted.description = description;
  return converted;
}

function convertToolChoice(
  choice: ToolChoice | null | undefined,
  parallelToolCalls: boolean | undefined,
): AnthropicToolChoice | undefined {
  const parallel = parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === null) {
    return parallelToolCalls === false ? { type: 'auto', ...parallel } : undefined;
  }
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...parallel };
  if (choice === 'required') return { type: 'any', ...parallel };
  if (typeof choice === 'object' && choice.type === 'function') {
    return { type: 'tool', name: choice.function.name, ...parallel };
  }
  throw new UnsupportedRequest(
    'tool_choice must be none, auto, required or one named function for Anthropic',
    'tool_choice',
  );
}
