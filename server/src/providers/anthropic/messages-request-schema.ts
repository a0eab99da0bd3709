import Type from 'typebox';

/**
 * What the gateway checks in an inbound Anthropic Messages body before decoding it. Like the OpenAI schema it
 * checks only what decoding relies on and allows additional properties, so new Anthropic fields do not break
 * clients; the full shape is AnthropicMessagesRequest in anthropic-types.ts.
 */
const ContentBlockSchema = Type.Object({ type: Type.String({ minLength: 1 }) });

const TextBlockSchema = Type.Object({ type: Type.Literal('text'), text: Type.String() });

const disableParallelToolUse = Type.Optional(Type.Boolean());

export const AnthropicMessagesRequestSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  max_tokens: Type.Integer({ minimum: 1 }),
  messages: Type.Array(
    Type.Object({
      role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
      content: Type.Union([Type.String(), Type.Array(ContentBlockSchema)]),
    }),
    { minItems: 1 },
  ),
  system: Type.Optional(Type.Union([Type.String(), Type.Array(TextBlockSchema)])),
  stream: Type.Optional(Type.Boolean()),
  stop_sequences: Type.Optional(Type.Array(Type.String())),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0 })),
  tools: Type.Optional(
    Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), input_schema: Type.Optional(Type.Object({})) })),
  ),
  tool_choice: Type.Optional(
    Type.Union([
      Type.Object({ type: Type.Literal('auto'), disable_parallel_tool_use: disableParallelToolUse }),
      Type.Object({ type: Type.Literal('any'), disable_parallel_tool_use: disableParallelToolUse }),
      Type.Object({
        type: Type.Literal('tool'),
        name: Type.String({ minLength: 1 }),
        disable_parallel_tool_use: disableParallelToolUse,
      }),
      Type.Object({ type: Type.Literal('none') }),
    ]),
  ),
  thinking: Type.Optional(
    Type.Union([
      Type.Object({ type: Type.Literal('enabled'), budget_tokens: Type.Integer({ minimum: 1 }) }),
      Type.Object({ type: Type.Literal('disabled') }),
    ]),
  ),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) })),
});
