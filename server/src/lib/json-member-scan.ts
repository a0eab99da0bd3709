/**
 * Finds the object value of the LAST member named `name` in a JSON text and returns its source, without parsing
 * the rest. Written by hand for the gateway's hot path: a response forwarded byte for byte needs only its `usage`,
 * which OpenAI-format bodies put last. Returns undefined whenever the text does not look as expected; callers then
 * parse the whole body.
 */
export function findLastObjectMember(text: string, name: string): string | undefined {
  const key = `"${name}"`;
  const keyAt = text.lastIndexOf(key);
  if (keyAt === -1) return undefined;
  let position = keyAt + key.length;
  position = skipWhitespace(text, position);
  if (text.charCodeAt(position) !== 58 /* : */) return undefined;
  position = skipWhitespace(text, position + 1);
  if (text.charCodeAt(position) !== 123 /* { */) return undefined;
  const start = position;
  let depth = 0;
  for (; position < text.length; position += 1) {
    const code = text.charCodeAt(position);
    if (code === 34 /* " */) {
      position = endOfString(text, position);
      if (position === -1) return undefined;
    } else if (code === 123) {
      depth += 1;
    } else if (code === 125 /* } */) {
      depth -= 1;
      if (depth === 0) return text.slice(start, position + 1);
    }
  }
  return undefined;
}

/** Index of the first character at or after `position` that is not JSON whitespace. */
export function skipWhitespace(text: string, position: number): number {
  let index = position;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code !== 32 && code !== 10 && code !== 13 && code !== 9) break;
    index += 1;
  }
  return index;
}

/** Index of the closing quote of the string opening at `position`, or -1. */
export function endOfString(text: string, position: number): number {
  for (let index = position + 1; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 92 /* \ */) index += 1;
    else if (code === 34) return index;
  }
  return -1;
}
