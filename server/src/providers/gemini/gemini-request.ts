import type { ChatRequest, FunctionTool, ToolChoice } from '../spec/openai-types.ts';
import { UnsupportedRequest } from '../spec/provider-adapter.ts';
import { ownEntry } from '../spec/own-entry.ts';
import { translateMessages } from './gemini-contents.ts';
import { toFunctionParameters } from './gemini-schema.ts';
import type {
  GeminiFunctionCallingConfig,
  GeminiFunctionDeclaration,
  GeminiGenerateContentRequest,
  GeminiGenerationConfig,
  GeminiJsonObject,
} from './gemini-types.ts';

/**
 * Request fields this builder reads. Any other field a client sets is reported back as dropped, so a new OpenAI
 * parameter surfaces in the dropped-parameters header instead of vanishing silently.
 */
const translatedFields = new Set([
  'model',
  'messages',
  'stream',
  // Gemini reports usage in every stream, so there is nothing to ask for.
  'stream_options',
  'tools',
  'tool_choice',
  'response_format',
  'stop',
  'temperature',
  'top_p',
  'top_k',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'reasoning_effort',
]);

/**
 * OpenAI's reasoning_effort → thinkingBudget in tokens, the table Google uses for its own OpenAI-compatible endpoint
 * on budget-based (2.5) models. `none` turns thinking off, which the Pro models refuse with a 400 of their own.
 */
const thinkingBudgets: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 1024,
  low: 1024,
  medium: 8192,
  high: 24576,
};

/** `required` is ANY: call some function. A named function is ANY restricted to that one name. */
const functionCallingModes: Readonly<Record<string, GeminiFunctionCallingConfig['mode']>> = {
  auto: 'AUTO',
  none: 'NONE',
  required: 'ANY',
};

export interface TranslatedChatRequest {
  readonly body: GeminiGenerateContentRequest;
  readonly droppedParameters: string[];
}

export function translateChatRequest(request: ChatRequest): TranslatedChatRequest {
  const { contents, systemParts } = translateMessages(request.messages);
  const body: GeminiGenerateContentRequest = { contents };
  if (systemParts.length > 0) body.systemInstruction = { parts: systemParts };
  if (request.tools && request.tools.length > 0) {
    body.tools = [{ functionDeclarations: request.tools.map(toFunctionDeclaration) }];
  }
  // OpenAI takes an explicit null (clients serialising None send it); it asks for nothing.
  if (request.tool_choice !== undefined && request.tool_choice !== null) {
    body.toolConfig = { functionCallingConfig: toFunctionCallingConfig(request.tool_choice) };
  }
  const generationConfig = toGenerationConfig(request);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  return { body, droppedParameters: listDroppedParameters(request) };
}

function toFunctionDeclaration(tool: FunctionTool, index: number): GeminiFunctionDeclaration {
  if (tool.type !== 'function' || typeof tool.function?.name !== 'string') {
    throw new UnsupportedRequest('Gemini takes only function tools', `tools[${index}]`);
  }
  const { name, description, parameters } = tool.function;
  let converted: ReturnType<typeof toFunctionParameters>;
  try {
    converted = toFunctionParameters(parameters);
  } catch (error) {
    if (error instanceof UnsupportedRequest && error.param === undefined) {
      throw new UnsupportedRequest(error.message, `tools[${index}].function.parameters`);
    }
    throw error;
  }
  return { name, ...(description === undefined ? {} : { description }), ...converted };
}

function listDroppedParameters(request: ChatRequest): string[] {
  const dropped: string[] = [];
  for (const [field, value] of Object.entries(request)) {
    if (value === undefined || value === null || translatedFields.has(field)) continue;
    // Gemini may return several calls in one turn and has no switch for it; only `false` asks for something lost.
    if (field === 'parallel_tool_calls' && value === true) continue;
    dropped.push(field);
  }
  return dropped;
}

function toFunctionCallingConfig(choice: ToolChoice): GeminiFunctionCallingConfig {
  if (typeof choice === 'string') {
    const mode = ownEntry(functionCallingModes, choice);
    if (mode) return { mode };
  } else if (typeof choice.function?.name === 'string') {
    return { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  }
  throw new UnsupportedRequest(
    'tool_choice must be auto, none, required or one named function for Gemini',
    'tool_choice',
  );
}

function toGenerationConfig(request: ChatRequest): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  const { stop, response_format: format } = request;
  if (typeof request.temperature === 'number') config.temperature = request.temperature;
  if (typeof request.top_p === 'number') config.topP = request.top_p;
  if (typeof request['top_k'] === 'number') config.topK = request['top_k'];
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (typeof maxTokens === 'number') config.maxOutputTokens = maxTokens;
  if (typeof stop === 'string') config.stopSequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) config.stopSequences = stop;
  if (typeof request.n === 'number') config.candidateCount = request.n;
  if (typeof request['presence_penalty'] === 'number') config.presencePenalty = request['presence_penalty'];
  if (typeof request['frequency_penalty'] === 'number') config.frequencyPenalty = request['frequency_penalty'];
  if (typeof request['seed'] === 'number') config.seed = request['seed'];
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    // responseJsonSchema takes JSON Schema as clients write it ($ref, additionalProperties, ...); the older
    // responseSchema would need the lossy OpenAPI-subset conversion that tool parameters get.
    if (format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema as GeminiJsonObject;
  }
  const effort = request.reasoning_effort;
  if (typeof effort === 'string') {
    const budget = ownEntry(thinkingBudgets, effort);
    if (budget === undefined) {
      throw new UnsupportedRequest(
        `reasoning_effort "${effort}" has no Gemini thinking budget; use one of ${Object.keys(thinkingBudgets).join(', ')}`,
        'reasoning_effort',
      );
    }
    config.thinkingConfig = budget === 0 ? { thinkingBudget: 0 } : { thinkingBudget: budget, includeThoughts: true };
  }
  return config;
}
