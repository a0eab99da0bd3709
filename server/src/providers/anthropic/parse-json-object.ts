import { MalformedUpstreamResponse } from '../spec/provider-adapter.ts';

/** Parses an upstream body or event that must be a JSON object; anything else is the upstream's fault (a 502). */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedUpstreamResponse('Anthropic sent data that is not JSON');
  }
  if (!isJsonObject(value)) throw new MalformedUpstreamResponse('Anthropic sent JSON that is not an object');
  return value;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
