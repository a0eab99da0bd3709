/** Server-sent-events framing as OpenAI writes it: one `data:` line per event, a blank line after each. */
export const sseResponseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
} as const;

export const sseDoneFrame = 'data: [DONE]\n\n';

/** What the `garbage` failure sends inside a stream: a data line whose payload is not JSON. */
export const sseGarbageFrame = 'data: {"choices": [ this is not json\n\n';

export function formatSseDataFrame(json: string): string {
  return `data: ${json}\n\n`;
}
