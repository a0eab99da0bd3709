/** Longest a test waits for a stream to end; a gateway stream that hangs fails the test instead of the suite. */
export const streamDeadlineMs = 5_000;

/**
 * The `data:` payloads of an SSE body, in order. The gateway and OpenAI write one `data:` line per event,
 * so a line-based split is exact for what these tests read.
 */
export function parseSseData(body: string): string[] {
  return body
    .split('\n\n')
    .map((event) => event.trim())
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** Data payloads other than `[DONE]`, parsed as JSON. */
export function parseSseJson(body: string): Array<Record<string, unknown>> {
  return parseSseData(body)
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

/** The text a streamed chat completion carried: the content deltas of every event before the final `[DONE]`. */
export function streamedChatText(events: readonly string[]): string {
  return events
    .slice(0, -1)
    .map((event) => (JSON.parse(event) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta)
    .map((delta) => delta?.content ?? '')
    .join('');
}

/**
 * POSTs a streaming chat request over a real socket and reads the whole response body. The request carries a
 * deadline, so a response that never ends rejects instead of hanging.
 */
export async function fetchStream(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ response: Response; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(streamDeadlineMs),
  });
  return { response, text: await response.text() };
}
