import { endOfString, skipWhitespace } from '../../lib/json-member-scan.ts';

export interface TopLevelEdits {
  /** The new value of a top-level string member `model`. */
  readonly model: string;
  /** Remove a top-level `"usage": null` member (which needs a scan to the end of the object). */
  readonly dropNullUsage: boolean;
}

const openBrace = 123;
const closeBrace = 125;
const openBracket = 91;
const quote = 34;
const colon = 58;
const comma = 44;
/**
 * The characters that matter when skipping a nested value. The regex engine finds the next one far faster than a
 * loop over every character (an embeddings body is mostly digits). Shared, as every use is synchronous.
 */
const structural = /["[\]{}]/g;

/**
 * Edits two top-level members of an OpenAI response or stream chunk without parsing it, for bodies forwarded byte
 * for byte: `model` is set to the name the client asked for, and a `"usage":null` member (which upstreams asked for
 * usage put on every chunk) can be removed. Written by hand for the hot path: a scan that stops as soon as it has
 * what it needs costs far less than parsing and re-serialising each body. Returns undefined whenever the text does
 * not look as expected; callers then parse it.
 */
export function editTopLevelMembers(text: string, edits: TopLevelEdits): string | undefined {
  let position = skipWhitespace(text, 0);
  if (text.charCodeAt(position) !== openBrace) return undefined;
  position += 1;
  // Plain numbers rather than objects: this runs on every forwarded body and stream chunk.
  let modelStart = -1;
  let modelEnd = -1;
  /** The text a removed usage member takes with it: its leading comma, or its trailing one when it comes first. */
  let cutStart = -1;
  let cutEnd = -1;
  let commaBefore = -1;
  for (;;) {
    position = skipWhitespace(text, position);
    if (text.charCodeAt(position) === closeBrace && commaBefore === -1) break;
    const keyStart = position;
    if (text.charCodeAt(keyStart) !== quote) return undefined;
    const keyEnd = endOfString(text, keyStart);
    if (keyEnd === -1) return undefined;
    position = skipWhitespace(text, keyEnd + 1);
    if (text.charCodeAt(position) !== colon) return undefined;
    const valueStart = skipWhitespace(text, position + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (valueEnd === -1) return undefined;
    position = skipWhitespace(text, valueEnd);
    const separator = text.charCodeAt(position);
    if (separator !== comma && separator !== closeBrace) return undefined;
    if (isKey(text, keyStart, keyEnd, 'model') && text.charCodeAt(valueStart) === quote) {
      modelStart = valueStart;
      modelEnd = valueEnd;
      if (!edits.dropNullUsage) break;
    } else if (
      edits.dropNullUsage &&
      isKey(text, keyStart, keyEnd, 'usage') &&
      valueEnd - valueStart === 4 &&
      text.startsWith('null', valueStart)
    ) {
      cutStart = commaBefore !== -1 ? commaBefore : keyStart;
      cutEnd = commaBefore !== -1 || separator !== comma ? valueEnd : skipWhitespace(text, position + 1);
    }
    if (separator === closeBrace) break;
    commaBefore = position;
    position += 1;
  }
  if (modelStart === -1) return undefined;
  const model = JSON.stringify(edits.model);
  const modelUnchanged = modelEnd - modelStart === model.length && text.startsWith(model, modelStart);
  // The common case (the upstream already names the requested model): the text itself, with no copy to build and no
  // concatenation for the socket write to flatten.
  if (cutStart === -1) return modelUnchanged ? text : spliced(text, modelStart, modelEnd, model);
  if (modelUnchanged) return spliced(text, cutStart, cutEnd, '');
  return cutStart < modelStart
    ? text.slice(0, cutStart) + text.slice(cutEnd, modelStart) + model + text.slice(modelEnd)
    : text.slice(0, modelStart) + model + text.slice(modelEnd, cutStart) + text.slice(cutEnd);
}

/** Whether the member name between the quotes at `keyStart` and `keyEnd` is `name` (compared in place). */
function isKey(text: string, keyStart: number, keyEnd: number, name: string): boolean {
  return keyEnd - keyStart - 1 === name.length && text.startsWith(name, keyStart + 1);
}

function spliced(text: string, start: number, end: number, replacement: string): string {
  return text.slice(0, start) + replacement + text.slice(end);
}

/** Index just past the value starting at `position`, or -1. */
function endOfValue(text: string, position: number): number {
  const first = text.charCodeAt(position);
  if (first === quote) {
    const end = endOfString(text, position);
    return end === -1 ? -1 : end + 1;
  }
  if (first === openBrace || first === openBracket) {
    structural.lastIndex = position;
    let depth = 0;
    for (let match = structural.exec(text); match !== null; match = structural.exec(text)) {
      const index = match.index;
      const code = text.charCodeAt(index);
      if (code === quote) {
        const end = endOfString(text, index);
        if (end === -1) return -1;
        structural.lastIndex = end + 1;
      } else if (code === openBrace || code === openBracket) depth += 1;
      else {
        depth -= 1;
        if (depth === 0) return index + 1;
      }
    }
    return -1;
  }
  let index = position;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code === comma || code === closeBrace || code === 32 || code === 10 || code === 13 || code === 9) break;
    index += 1;
  }
  return index === position ? -1 : index;
}
