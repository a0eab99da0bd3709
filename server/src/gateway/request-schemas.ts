import Type from 'typebox';
import { ArrayOr, Nullable, TaggedObject } from '../providers/spec/schema-builders.ts';

/**
 * The inbound OpenAI chat and embeddings bodies: every field some part of AI Hub reads is checked here, to the depth
 * it is read, so translation code never meets a shape it does not expect (a 400 naming the field, never a 500).
 * Fields nobody reads are the provider's business and are carried through untouched (additional properties allowed),
 * so new OpenAI parameters work without a release. The internal types in providers/spec/openai-types.ts describe
 * the same shapes.
 */

const TextPart = Type.Object({ text: Type.String() });

/** Content parts by type. Other types (future ones) pass to providers that take them; the others reject them. */
const ContentPartSchema = TaggedObject({
  text: TextPart,
  image_url: Type.Object({
    image_url: Type.Object({ url: Type.String(), detail: Type.Optional(Type.String()) }),
  }),
  input_audio: Type.Object({ input_audio: Type.Object({ data: Type.String(), format: Type.String() }) }),
  file: Type.Object({
    file: Type.Object({
      file_data: Type.Optional(Type.String()),
      file_id: Type.Optional(Type.String()),
      filename: Type.Optional(Type.String()),
    }),
  }),
  refusal: Type.Object({ refusal: Type.String() }),
});

/** Function calls carry `function`; other call types (OpenAI's custom tools) are for providers that know them. */
const ToolCallSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Optional(Type.String({ minLength: 1 })),
    function: Type.Optional(Type.Object({ name: Type.String(), arguments: Type.String() })),
  },
  {
    if: { type: 'object', required: ['type'], properties: { type: { not: { const: 'function' } } } },
    then: {},
    else: { required: ['function'] },
  },
);

const MessageSchema = Type.Object({
  role: Type.String({ minLength: 1 }),
  content: Type.Optional(ArrayOr(ContentPartSchema, Nullable(Type.String()))),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Nullable(Type.Array(ToolCallSchema))),
  tool_call_id: Type.Optional(Type.String()),
  reasoning_content: Type.Optional(Nullable(Type.String())),
  reasoning_signature: Type.Optional(Nullable(Type.String())),
});

/** Adapters translate function parameters into other schema dialects, which needs them to be a JSON object. */
const ToolSchema = TaggedObject({
  function: Type.Object({
    function: Type.Object({
      name: Type.String({ minLength: 1 }),
      description: Type.Optional(Type.String()),
      parameters: Type.Optional(Type.Object({})),
      strict: Type.Optional(Nullable(Type.Boolean())),
    }),
  }),
});

const ToolChoiceSchema = Type.Unsafe<unknown>({
  if: { type: 'string' },
  then: { enum: ['none', 'auto', 'required'] },
  else: TaggedObject({ function: Type.Object({ function: Type.Object({ name: Type.String({ minLength: 1 }) }) }) }),
});

const ResponseFormatSchema = Type.Object(
  { type: Type.Union([Type.Literal('text'), Type.Literal('json_object'), Type.Literal('json_schema')]) },
  {
    allOf: [
      {
        if: { type: 'object', required: ['type'], properties: { type: { const: 'json_schema' } } },
        then: Type.Object({
          json_schema: Type.Object({
            name: Type.String({ minLength: 1 }),
            description: Type.Optional(Type.String()),
            schema: Type.Optional(Type.Object({})),
            strict: Type.Optional(Nullable(Type.Boolean())),
          }),
        }),
      },
    ],
  },
);

export const ChatCompletionBodySchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(MessageSchema, { minItems: 1 }),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stream_options: Type.Optional(Nullable(Type.Object({ include_usage: Type.Optional(Type.Boolean()) }))),
  n: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 128 }))),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  // Not an OpenAI field, but OpenAI-compatible servers (vLLM, Ollama) and the Anthropic and Gemini adapters read it.
  top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  seed: Type.Optional(Nullable(Type.Integer())),
  stop: Type.Optional(ArrayOr(Type.String(), Nullable(Type.String()))),
  user: Type.Optional(Type.String()),
  tools: Type.Optional(Nullable(Type.Array(ToolSchema))),
  tool_choice: Type.Optional(Nullable(ToolChoiceSchema)),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  response_format: Type.Optional(Nullable(ResponseFormatSchema)),
  reasoning_effort: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
});

const EmbeddingInputSchema = Type.Union([
  Type.String(),
  Type.Array(Type.String(), { minItems: 1 }),
  Type.Array(Type.Integer(), { minItems: 1 }),
  Type.Array(Type.Array(Type.Integer(), { minItems: 1 }), { minItems: 1 }),
]);

export const EmbeddingsBodySchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  input: EmbeddingInputSchema,
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
});

export const ModelParamsSchema = Type.Object({ model: Type.String({ minLength: 1 }) });
