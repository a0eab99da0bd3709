import type { ChatMessage, ContentPart, ToolCall } from '../spec/openai-types.ts';
import { UnsupportedRequest } from '../spec/provider-adapter.ts';
import { ownEntry } from '../spec/own-entry.ts';
import { isRecord } from './gemini-schema.ts';
import { readThoughtSignature } from './gemini-thought-signature.ts';
import type { GeminiContent, GeminiJsonObject, GeminiPart } from './gemini-types.ts';

/** Image URLs carry no MIME type; Gemini requires one, so it is read from the file extension. */
const imageMimeTypesByExtension: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};
/** For URLs without a known extension (CDN links, signed URLs): the part says "image", and JPEG is the likeliest. */
const fallbackImageMimeType = 'image/jpeg';

const audioMimeTypesByFormat: Readonly<Record<string, string>> = {
  wav: 'audio/wav',
  mp3: 'audio/mp3',
  flac: 'audio/flac',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
  aiff: 'audio/aiff',
};

/**
 * Messages → contents. Gemini has one system instruction, so every system/developer message joins it wherever it
 * stood. Tool results become `functionResponse` parts of a user turn, and a run of them shares one turn, which is
 * how Gemini expects the answers to parallel calls.
 */
export function translateMessages(messages: ChatMessage[]): { contents: GeminiContent[]; systemParts: GeminiPart[] } {
  const contents: GeminiContent[] = [];
  const systemParts: GeminiPart[] = [];
  const functionNamesByCallId = new Map<string, string>();
  let previousWasToolResult = false;

  messages.forEach((message, messageIndex) => {
    const param = `messages[${messageIndex}]`;
    const isToolResult = message.role === 'tool';
    switch (message.role) {
      case 'system':
      case 'developer':
        systemParts.push(...toTextParts(message.content, param));
        break;
      case 'user':
        contents.push({ role: 'user', parts: toUserParts(message.content, param) });
        break;
      case 'assistant': {
        message.tool_calls?.forEach((call, callIndex) => {
          // OpenAI's custom tool calls carry free text, not a function call; Gemini has no such call.
          if (call.type !== 'function' && call.type !== undefined) {
            throw new UnsupportedRequest(
              `tool calls of type "${String(call.type)}" cannot be sent to Gemini`,
              `${param}.tool_calls[${callIndex}]`,
            );
          }
          functionNamesByCallId.set(call.id, call.function.name);
        });
        const parts = toModelParts(message, param);
        // Gemini rejects a turn without parts; an empty assistant message carries nothing to keep.
        if (parts.length > 0) contents.push({ role: 'model', parts });
        break;
      }
      case 'tool': {
        const part = toFunctionResponsePart(message, functionNamesByCallId, param);
        const previous = contents.at(-1);
        if (previousWasToolResult && previous?.parts) previous.parts.push(part);
        else contents.push({ role: 'user', parts: [part] });
        break;
      }
      default:
        throw new UnsupportedRequest(
          `Gemini has no equivalent for the message role "${message.role}"`,
          `${param}.role`,
        );
    }
    previousWasToolResult = isToolResult;
  });
  return { contents, systemParts };
}

function toTextParts(content: ChatMessage['content'], param: string): GeminiPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return [{ text: content }];
  return content.map((part, partIndex) => {
    if (part.type === 'text' && typeof part['text'] === 'string') return { text: part['text'] };
    throw new UnsupportedRequest(
      `this message can only hold text for Gemini, not "${part.type}"`,
      `${param}.content[${partIndex}]`,
    );
  });
}

function toUserParts(content: ChatMessage['content'], param: string): GeminiPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return [{ text: content }];
  return content.map((part, partIndex) => toUserPart(part, `${param}.content[${partIndex}]`));
}

function toUserPart(part: ContentPart, param: string): GeminiPart {
  switch (part.type) {
    case 'text':
      if (typeof part['text'] === 'string') return { text: part['text'] };
      break;
    case 'image_url': {
      const url = isRecord(part['image_url']) ? part['image_url']['url'] : undefined;
      if (typeof url === 'string') return toImagePart(url, param);
      break;
    }
    case 'input_audio': {
      const audio = part['input_audio'];
      if (isRecord(audio) && typeof audio['data'] === 'string' && typeof audio['format'] === 'string') {
        const mimeType = ownEntry(audioMimeTypesByFormat, audio['format']);
        if (mimeType) return { inlineData: { mimeType, data: audio['data'] } };
        throw new UnsupportedRequest(
          `audio format "${audio['format']}" is not one Gemini reads`,
          `${param}.input_audio.format`,
        );
      }
      break;
    }
    case 'file': {
      const fileData = isRecord(part['file']) ? part['file']['file_data'] : undefined;
      const inline = typeof fileData === 'string' ? parseDataUrl(fileData) : undefined;
      if (inline) return { inlineData: inline };
      throw new UnsupportedRequest('Gemini takes files only inline, as a base64 data URL in file.file_data', param);
    }
  }
  throw new UnsupportedRequest(`content part of type "${part.type}" cannot be sent to Gemini`, param);
}

/**
 * `data:` URLs go inline. http(s) URLs go as `fileData` references (Gemini fetches them, as it does its own Files
 * API URIs), with the MIME type taken from the extension. `detail` has no per-image equivalent and is dropped.
 */
function toImagePart(url: string, param: string): GeminiPart {
  if (url.startsWith('data:')) {
    const inline = parseDataUrl(url);
    if (!inline) throw new UnsupportedRequest('image data URLs must be base64 encoded', `${param}.image_url.url`);
    return { inlineData: inline };
  }
  if (url.startsWith('https://') || url.startsWith('http://')) {
    return { fileData: { mimeType: guessImageMimeType(url), fileUri: url } };
  }
  throw new UnsupportedRequest('image URLs must be http(s) or base64 data URLs', `${param}.image_url.url`);
}

function parseDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const match = /^data:([^;,]+)(?:;[^;,]*)*;base64,(.*)$/s.exec(url);
  if (!match?.[1] || match[2] === undefined) return undefined;
  return { mimeType: match[1], data: match[2] };
}

function guessImageMimeType(url: string): string {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return fallbackImageMimeType;
  }
  const extension = /\.([a-z0-9]+)$/i.exec(pathname)?.[1]?.toLowerCase();
  return (extension && ownEntry(imageMimeTypesByExtension, extension)) ?? fallbackImageMimeType;
}

/**
 * Thought text is not sent back (Gemini keeps its reasoning through thought signatures, not the summaries); a
 * signature returned on a tool call goes back on its functionCall part, where Gemini 3 requires it.
 */
function toModelParts(message: ChatMessage, param: string): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const { content } = message;
  if (typeof content === 'string') {
    if (content !== '') parts.push({ text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, partIndex) => {
      const text = part.type === 'text' ? part['text'] : part.type === 'refusal' ? part['refusal'] : undefined;
      if (typeof text !== 'string') {
        throw new UnsupportedRequest(
          `assistant content of type "${part.type}" cannot be sent to Gemini`,
          `${param}.content[${partIndex}]`,
        );
      }
      parts.push({ text });
    });
  }
  message.tool_calls?.forEach((call, callIndex) => {
    const signature = readThoughtSignature(call);
    parts.push({
      functionCall: {
        name: call.function.name,
        args: parseArguments(call, `${param}.tool_calls[${callIndex}].function.arguments`),
      },
      ...(signature === undefined ? {} : { thoughtSignature: signature }),
    });
  });
  return parts;
}

function parseArguments(call: ToolCall, param: string): GeminiJsonObject {
  const text = call.function.arguments;
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UnsupportedRequest('tool call arguments must be valid JSON for Gemini', param);
  }
  if (!isRecord(value)) throw new UnsupportedRequest('tool call arguments must be a JSON object for Gemini', param);
  return value as GeminiJsonObject;
}

/**
 * Gemini's functionResponse names the function, not the call. The name comes from the assistant tool call with this
 * id. A JSON-object result goes as the response itself; any other text is wrapped as `{ "result": text }`, since
 * the response must be an object.
 */
function toFunctionResponsePart(
  message: ChatMessage,
  functionNamesByCallId: Map<string, string>,
  param: string,
): GeminiPart {
  const callId = message.tool_call_id;
  const name = callId === undefined ? undefined : functionNamesByCallId.get(callId);
  if (name === undefined) {
    throw new UnsupportedRequest(
      'a tool message must answer a tool call of an earlier assistant message; Gemini needs the function name',
      `${param}.tool_call_id`,
    );
  }
  const text = toTextParts(message.content, param)
    .map((part) => part.text ?? '')
    .join('');
  return { functionResponse: { name, response: toFunctionResponse(text) } };
}

function toFunctionResponse(text: string): GeminiJsonObject {
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return value as GeminiJsonObject;
  } catch {
    // Plain text: wrapped below.
  }
  return { result: text };
}
