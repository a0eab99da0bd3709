/**
 * Edits two top-level members of an OpenAI response or stream chunk without parsing it, for bodies forwarded byte
 * for byte: `model` is set to the name the client asked for, and a `"usage":null` member (which upstreams asked for
 * usage put on every chunk) can be removed. Written by hand for the hot path: a scan that stops as soon as it has
 * what it needs costs far less than parsing and re-serialising each body. Returns undefined whenever the text does
 * not look as expected; callers then parse it.
 */
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
const backslash = 92;
const colon = 58;
const comma = 44;
/**
 * The characters that matter when skipping a nested value. The regex engine finds the next one far faster than a
 * loop over every character (an embeddings body is mostly digits). Shared, as every use is synchronous.
 */
const structural = /["[\]{}]/g;

export function editTopLevelMembers(text: string, edits: TopLevelEdits): string | undefined {
  let position = skipWhitespace(text, 0);
  if (text.charCodeAt(position) !== openBrace) return undefined;
  position += 1;
  let modelValue: { start: number; end: number } | undefined;
  /** The text a removed usage member takes with it: its leading comma, or its trailing one when it comes first. */
  let usageCut: { start: number; end: number } | undefined;
  let commaBefore = -1;
  for (;;) {
    position = skipWhitespace(text, position);
    if (text.charCodeAt(position) === closeBrace && commaBefore === -1) break;
    const keyStart = position;
    if (text.charCodeAt(keyStart) !== quote) return undefined;
    const keyEnd = endOfString(text, keyStart);
    if (keyEnd === -1) return undefined;
    const key = text.slice(keyStart + 1, keyEnd);
    position = skipWhitespace(text, keyEnd + 1);
    if (text.charCodeAt(position) !== colon) return undefined;
    const valueStart = skipWhitespace(text, position + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (valueEnd === -1) return undefined;
    position = skipWhitespace(text, valueEnd);
    const separator = text.charCodeAt(position);
    if (separator !== comma && separator !== closeBrace) return undefined;
    if (key === 'model' && text.charCodeAt(valueStart) === quote) {
      modelValue = { start: valueStart, end: valueEnd };
      if (!edits.dropNullUsage) break;
    } else if (key === 'usage' && edits.dropNullUsage && text.slice(valueStart, valueEnd) === 'null') {
      usageCut =
        commaBefore !== -1
          ? { start: commaBefore, end: valueEnd }
          : { start: keyStart, end: separator === comma ? skipWhitespace(text, position + 1) : valueEnd };
    }
    if (separator === closeBrace) break;
    commaBefore = position;
    position += 1;
  }
  if (!modelValue) return undefined;
  const model = JSON.stringify(edits.model);
  const modelUnchanged = modelValue.end - modelValue.start === model.length && text.startsWith(model, modelValue.start);
  // The common case (the upstream already names the requested model): the text itself, with no copy to build and no
  // concatenation for the socket write to flatten.
  if (usageCut === undefined) {
    return modelUnchanged ? text : spliced(text, modelValue.start, modelValue.end, model);
  }
  if (modelUnchanged) return spliced(text, usageCut.start, usageCut.end, '');
  return usageCut.start < modelValue.start
    ? text.slice(0, usageCut.start) + text.slice(usageCut.end, modelValue.start) + model + text.slice(modelValue.end)
    : text.slice(0, modelValue.start) + model + text.slice(modelValue.end, usageCut.start) + text.slice(usageCut.end);
}

function spliced(text: string, start: number, end: number, replacement: string): string {
  return text.slice(0, start) + replacement + text.slice(end);
}

function skipWhitespace(text: string, position: number): number {
  let index = position;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code !== 32 && code !== 10 && code !== 13 && code !== 9) break;
    index += 1;
  }
  return index;
}

/** Index of the closing quote of the string opening at `position`, or -1. */
function endOfString(text: string, position: number): number {
  for (let index = position + 1; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === backslash) index += 1;
    else if (code === quote) return index;
  }
  return -1;
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
