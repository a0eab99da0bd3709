import type { JsonValue } from '../spec/openai-types.ts';
import { UnsupportedRequest } from '../spec/provider-adapter.ts';
import type { GeminiFunctionDeclaration, GeminiJsonObject } from './gemini-types.ts';

/**
 * Gemini's `FunctionDeclaration.parameters` takes its own Schema type (a subset of OpenAPI 3.0) and rejects the
 * whole request on any field outside it — `$schema`, `additionalProperties`, `strict`, `$id`, `examples`,
 * `exclusiveMinimum`/`exclusiveMaximum`, `multipleOf`, `uniqueItems`, `allOf`, `not`, `patternProperties` and the
 * rest of JSON Schema. So tool schemas are rebuilt from an allowlist of Schema's documented fields rather than by
 * deleting known offenders: anything new a client sends is dropped instead of failing the request.
 */
const schemaFields = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'propertyOrdering',
  'default',
  'minimum',
  'maximum',
]);

/**
 * Picks the declaration field for one tool's parameters. Schemas with references (`$ref`, `$defs`) cannot be
 * flattened into Schema, so they go as `parametersJsonSchema`, which Gemini resolves itself; everything else goes
 * as `parameters`, the field every Gemini model accepts. A parameterless function (no schema, or an object schema
 * without properties) gets neither, because Gemini rejects an OBJECT schema with empty `properties`.
 */
export function toFunctionParameters(
  schema: Record<string, unknown> | undefined,
): Pick<GeminiFunctionDeclaration, 'parameters' | 'parametersJsonSchema'> {
  if (schema === undefined || !hasProperties(schema)) return {};
  if (usesReferences(schema)) {
    const { $schema: _dialect, ...rest } = schema;
    return { parametersJsonSchema: rest as GeminiJsonObject };
  }
  return { parameters: toGeminiSchema(schema) };
}

function hasProperties(schema: Record<string, unknown>): boolean {
  const { properties } = schema;
  if (isRecord(properties)) return Object.keys(properties).length > 0;
  return schema['type'] !== 'object' && schema['type'] !== undefined;
}

/** Iterative, so no schema depth can exhaust the stack. */
function usesReferences(schema: unknown): boolean {
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Array.isArray(value)) pending.push(...(value as unknown[]));
    else if (isRecord(value)) {
      for (const [key, child] of Object.entries(value)) {
        if (key === '$ref' || key === '$defs' || key === 'definitions') return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * Deeper than any real tool schema, and shallow enough for the recursive conversion below to stay far from the stack
 * limit whoever calls it (the gateway already bounds whole request bodies more tightly).
 */
export const maxSchemaDepth = 100;

/**
 * JSON Schema → Gemini Schema. Beyond the allowlist: `type: [T, "null"]` becomes `type: T, nullable: true` (Schema
 * has one type per node), several non-null types become `anyOf`, `oneOf` is read as `anyOf` (Schema has only the
 * latter), and `const` becomes a one-value `enum`.
 */
export function toGeminiSchema(schema: Record<string, unknown>, depth = 1): GeminiJsonObject {
  if (depth > maxSchemaDepth) {
    throw new UnsupportedRequest(`tool parameter schemas may nest at most ${maxSchemaDepth} levels for Gemini`);
  }
  const result: GeminiJsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (schemaFields.has(key) && key !== 'type') result[key] = value as JsonValue;
  }
  applyType(schema['type'], result);
  if ('const' in schema && result['enum'] === undefined) result['enum'] = [schema['const'] as JsonValue];

  const { properties, items } = schema;
  if (isRecord(properties)) {
    const converted: GeminiJsonObject = {};
    for (const [name, child] of Object.entries(properties)) {
      if (isRecord(child)) converted[name] = toGeminiSchema(child, depth + 1);
    }
    result['properties'] = converted;
  }
  if (isRecord(items)) result['items'] = toGeminiSchema(items, depth + 1);
  const alternatives = [schema['anyOf'], schema['oneOf']].flatMap((list): unknown[] =>
    Array.isArray(list) ? list : [],
  );
  const anyOf = alternatives.filter(isRecord).map((alternative) => toGeminiSchema(alternative, depth + 1));
  if (anyOf.length > 0) result['anyOf'] = anyOf;
  return result;
}

function applyType(type: unknown, result: GeminiJsonObject): void {
  if (typeof type === 'string') {
    result['type'] = type;
    return;
  }
  if (!Array.isArray(type)) return;
  const nonNull = type.filter((name): name is string => typeof name === 'string' && name !== 'null');
  if (nonNull.length < type.length) result['nullable'] = true;
  if (nonNull.length === 1) result['type'] = nonNull[0] ?? null;
  else if (nonNull.length > 1) result['anyOf'] = nonNull.map((name) => ({ type: name }));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
