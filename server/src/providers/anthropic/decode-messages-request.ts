import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  FunctionTool,
  ToolCall,
  ToolChoice,
} from '../spec/openai-types.ts';
import { UnsupportedRequest } from '../spec/provider-adapter.ts';
import { reasoningEffortForBudget } from './anthropic-mappings.ts';
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicMessagesRequest,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
} from './anthropic-types.ts';

/**
 * Anthropic Messages request (from an Anthropic SDK client) → internal chat request, so it can go to any provider.
 * The body has passed AnthropicMessagesRequestSchema; what the internal shape cannot carry throws UnsupportedRequest.
 */
export function decodeMessagesRequest(body: AnthropicMessagesRequest): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = decodeSystem(body.system);
  if (system) messages.push(system);
  body.messages.forEach((message, index) => messages.push(...decodeMessage(message, `messages[${index}]`)));

  const request: ChatRequest = { model: body.model, messages, max_tokens: body.max_tokens };
  if (body.stream === true) {
    // Anthropic clients always get usage at the end of a stream, so it is always asked for.
    request.stream = true;
    request.stream_options = { include_usage: true };
  }
  if (typeof body.temperature === 'number') request.temperature = body.temperature;
  if (typeof body.top_p === 'number') request.top_p = body.top_p;
  // Not an OpenAI field, but OpenAI-compatible servers (vLLM, Ollama) and the Anthropic adapter read it.
  if (typeof body.top_k === 'number') request.top_k = body.top_k;
  if (body.stop_sequences && body.stop_sequences.length > 0) request.stop = body.stop_sequences;
  if (body.tools && body.tools.length > 0) request.tools = body.tools.map(decodeTool);
  if (body.tool_choice) {
    request.tool_choice = decodeToolChoice(body.tool_choice);
    if ('disable_parallel_tool_use' in body.tool_choice && body.tool_choice.disable_parallel_tool_use) {
      request.parallel_tool_calls = false;
    }
  }
  if (body.thinking?.type === 'enabled')
    request.reasoning_effort = reasoningEffortForBudget(body.thinking.budget_tokens);
  const userId = body.metadata?.user_id;
  if (typeof userId === 'string' && userId !== '') request.user = userId;
  return request;
}

function decodeSystem(system: AnthropicMessagesRequest['system']): ChatMessage | undefined {
  if (system === undefined || system === '' || (Array.isArray(system) && system.length === 0)) return undefined;
  if (typeof system === 'string') return { role: 'system', content: system };
  return {
    role: 'system',
    content: system.map((block, index) => {
      if (block.type !== 'text') throw new UnsupportedRequest('system blocks must be text', `system[${index}]`);
      return { type: 'text', text: block.text };
    }),
  };
}

function decodeMessage(message: AnthropicMessage, path: string): ChatMessage[] {
  if (typeof message.content === 'string') return [{ role: message.role, content: message.content }];
  return message.role === 'assistant' ? [decodeAssistant(message.content, path)] : decodeUser(message.content, path);
}

/**
 * OpenAI wants tool results as separate `tool` messages right after the assistant's calls, so they come first and
 * the rest of the user turn follows as one user message (Anthropic puts tool_result blocks first too).
 */
function decodeUser(blocks: AnthropicContentBlock[], path: string): ChatMessage[] {
  const toolMessages: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  blocks.forEach((block, index) => {
    const blockPath = `${path}.content[${index}]`;
    if (block.type === 'tool_result') toolMessages.push(decodeToolResult(block, blockPath));
    else parts.push(decodeUserPart(block, blockPath));
  });
  return parts.length > 0 ? [...toolMessages, { role: 'user', content: parts }] : toolMessages;
}

function decodeUserPart(block: AnthropicContentBlock, path: string): ContentPart {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'image':
      return decodeImage(block, path);
    case 'document':
      return decodeDocument(block, path);
    case 'tool_use':
    case 'tool_result':
    case 'thinking':
    case 'redacted_thinking':
    default:
      throw new UnsupportedRequest(`a user message cannot carry a '${String(block.type)}' block here`, path);
  }
}

function decodeImage(block: AnthropicImageBlock, path: string): ContentPart {
  const { source } = block;
  if (source.type === 'base64') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (source.type === 'url') return { type: 'image_url', image_url: { url: source.url } };
  throw new UnsupportedRequest('images must have a base64 or url source', `${path}.source`);
}

/** PDFs become OpenAI file parts (inline data URL); plain-text documents become text. */
function decodeDocument(block: AnthropicDocumentBlock, path: string): ContentPart {
  const { source } = block;
  if (source.type === 'text') return { type: 'text', text: source.data };
  if (source.type === 'base64' && source.media_type === 'application/pdf') {
    const file: Record<string, string> = { file_data: `data:application/pdf;base64,${source.data}` };
    if (block.title) file.filename = block.title;
    return { type: 'file', file };
  }
  throw new UnsupportedRequest('documents must be base64 PDFs or plain text', `${path}.source`);
}

/** The internal shape has no error flag on tool results, so an error is said in the content the model reads. */
function decodeToolResult(block: AnthropicToolResultBlock, path: string): ChatMessage {
  let content: string | ContentPart[];
  if (typeof block.content === 'string' || block.content === undefined) {
    content = block.content ?? '';
  } else {
    content = block.content.map((part, index): ContentPart => {
      if (part.type === 'text') return { type: 'text', text: part.text };
      if (part.type === 'image') return decodeImage(part, `${path}.content[${index}]`);
      throw new UnsupportedRequest('tool results can hold text and images only', `${path}.content[${index}]`);
    });
  }
  if (block.is_error === true) {
    content = typeof content === 'string' ? `Error: ${content}` : [{ type: 'text', text: 'Error:' }, ...content];
  }
  return { role: 'tool', tool_call_id: block.tool_use_id, content };
}

/** Redacted thinking is encrypted for Anthropic alone and has no field in the internal shape; it is left out. */
function decodeAssistant(blocks: AnthropicContentBlock[], path: string): ChatMessage {
  const texts: string[] = [];
  const thoughts: string[] = [];
  const toolCalls: ToolCall[] = [];
  let signature: string | undefined;
  blocks.forEach((block, index) => {
    switch (block.type) {
      case 'text':
        texts.push(block.text);
        return;
      case 'thinking':
        thoughts.push(block.thinking);
        signature = block.signature;
        return;
      case 'redacted_thinking':
        return;
      case 'tool_use':
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        });
        return;
      case 'image':
      case 'document':
      case 'tool_result':
      default:
        throw new UnsupportedRequest(
          `an assistant message cannot carry a '${String(block.type)}' block`,
          `${path}.content[${index}]`,
        );
    }
  });
  const message: ChatMessage = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thoughts.length > 0) message.reasoning_content = thoughts.join('');
  if (signature !== undefined) message.reasoning_signature = signature;
  return message;
}

/** Anthropic's server tools (web search, code execution, ...) run at Anthropic and cannot go elsewhere. */
function decodeTool(tool: AnthropicTool, index: number): FunctionTool {
  if ((tool.type !== undefined && tool.type !== 'custom') || tool.input_schema === undefined) {
    throw new UnsupportedRequest(`tool '${tool.name}' is not a client tool with an input_schema`, `tools[${index}]`);
  }
  const decoded: FunctionTool = { type: 'function', function: { name: tool.name, parameters: tool.input_schema } };
  if (tool.description) decoded.function.description = tool.description;
  return decoded;
}

function decodeToolChoice(choice: AnthropicToolChoice): ToolChoice {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
  }
}
