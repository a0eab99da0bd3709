import Type from 'typebox';

/**
 * What the gateway itself must rely on in a request. Everything else is the provider's business and is carried
 * through untouched (additional properties allowed), so new OpenAI parameters work without a release.
 */
export const ChatCompletionBodySchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(
    Type.Object({
      role: Type.String({ minLength: 1 }),
      content: Type.Optional(
        Type.Union([Type.String(), Type.Array(Type.Object({ type: Type.String() })), Type.Null()]),
      ),
    }),
    { minItems: 1 },
  ),
  stream: Type.Optional(Type.Boolean()),
  stream_options: Type.Optional(
    Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
  ),
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: 128 })),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  // Adapters translate function parameters into other schema dialects, which needs them to be a JSON object.
  tools: Type.Optional(
    Type.Union([
      Type.Array(
        Type.Object({
          function: Type.Optional(Type.Object({ parameters: Type.Optional(Type.Object({})) })),
        }),
      ),
      Type.Null(),
    ]),
  ),
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
