import Type, { type TObject, type TSchema } from 'typebox';

/**
 * Builders for the inbound request schemas (OpenAI chat, Anthropic Messages). Both wire formats have tagged unions
 * (content parts by `type`) and "string or array" fields. Written as `anyOf`, Ajv reports the first branch that failed
 * ("content must be string") rather than the field actually at fault; written with `if`/`then`/`else`, it reports the
 * inner error ("content[1].image_url.url must be string"), which is what the 400 must name.
 */

/** The conditional that applies `then` to objects whose `type` is `type`. */
function whenTypeIs(type: string, then: TObject): Record<string, unknown> {
  return { if: { type: 'object', required: ['type'], properties: { type: { const: type } } }, then };
}

/**
 * An object tagged by a string `type`, whose other fields depend on it. Types without a case are accepted as they are
 * (additional properties allowed), so new part types from a provider still reach providers that take them.
 */
export function TaggedObject(cases: Readonly<Record<string, TObject>>, properties: Record<string, TSchema> = {}) {
  return Type.Object(
    { type: Type.String({ minLength: 1 }), ...properties },
    { allOf: Object.entries(cases).map(([type, then]) => whenTypeIs(type, then)) },
  );
}

/** An array of `items`, or else a value matching `otherwise` (a string, null, ...). */
export function ArrayOr(items: TSchema, otherwise: TSchema) {
  return Type.Unsafe<unknown>({ if: { type: 'array' }, then: Type.Array(items), else: otherwise });
}

/** A value matching `schema`, or null (OpenAI clients serialising `None` send explicit nulls). */
export function Nullable(schema: TSchema) {
  return Type.Union([schema, Type.Null()]);
}
