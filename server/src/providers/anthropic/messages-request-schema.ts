import Type from 'typebox';
import { ArrayOr, TaggedObject } from '../spec/schema-builders.ts';

/**
 * The inbound Anthropic Messages body: every field decoding reads is checked here, to the depth it is read, so the
 * decoder never meets a shape it does not expect (a 400 naming the field, never a 500). Unknown fields are allowed,
 * so new Anthropic fields do not break clients; the full shape is AnthropicMessagesRequest in anthropic-types.ts.
 */

const ImageSourceSchema = TaggedObject({
  base64: Type.Object({ media_type: Type.String(), data: Type.String() }),
  url: Type.Object({ url: Type.String() }),
});

const DocumentSourceSchema = TaggedObject({
  base64: Type.Object({ media_type: Type.String(), data: Type.String() }),
  url: Type.Object({ url: Type.String() }),
  text: Type.Object({ data: Type.String() }),
});

const TextBlock = Type.Object({ text: Type.String() });
const ImageBlock = Type.Object({ source: ImageSourceSchema });

/** What a tool result may hold: the same blocks as a message, by the same rules. */
const ToolResultPartSchema = TaggedObject({ text: TextBlock, image: ImageBlock });

const ContentBlockSchema = TaggedObject({
  text: TextBlock,
  image: ImageBlock,
  document: Type.Object({
    source: DocumentSourceSchema,
    title: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
  tool_use: Type.Object({ id: Type.String(), name: Type.String({ minLength: 1 }), input: Type.Object({}) }),
  tool_result: Type.Object({
    tool_use_id: Type.String(),
    content: Type.Optional(ArrayOr(ToolResultPartSchema, Type.String())),
    is_error: Type.Optional(Type.Boolean()),
  }),
  thinking: Type.Object({ thinking: Type.String(), signature: Type.String() }),
  redacted_thinking: Type.Object({ data: Type.String() }),
});

const SystemBlockSchema = Type.Object({ type: Type.Literal('text'), text: Type.String() });

const ToolChoiceSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('auto'), Type.Literal('any'), Type.Literal('tool'), Type.Literal('none')]),
    name: Type.Optional(Type.String({ minLength: 1 })),
    disable_parallel_tool_use: Type.Optional(Type.Boolean()),
  },
  {
    allOf: [
      {
        if: { type: 'object', required: ['type'], properties: { type: { const: 'tool' } } },
        then: { required: ['name'] },
      },
    ],
  },
);

const ThinkingSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
    budget_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  {
    allOf: [
      {
        if: { type: 'object', required: ['type'], properties: { type: { const: 'enabled' } } },
        then: { required: ['budget_tokens'] },
      },
    ],
  },
);

/** The Messages body without max_tokens: what POST /v1/messages/count_tokens takes. */
export const AnthropicCountTokensRequestSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(
    Type.Object({
      role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
      content: ArrayOr(ContentBlockSchema, Type.String()),
    }),
    { minItems: 1 },
  ),
  system: Type.Optional(ArrayOr(SystemBlockSchema, Type.String())),
  tools: Type.Optional(
    Type.Array(
      Type.Object({
        type: Type.Optional(Type.String()),
        name: Type.String({ minLength: 1 }),
        description: Type.Optional(Type.String()),
        input_schema: Type.Optional(Type.Object({})),
      }),
    ),
  ),
  tool_choice: Type.Optional(ToolChoiceSchema),
  thinking: Type.Optional(ThinkingSchema),
});

export const AnthropicMessagesRequestSchema = Type.Object({
  ...AnthropicCountTokensRequestSchema.properties,
  max_tokens: Type.Integer({ minimum: 1 }),
  stream: Type.Optional(Type.Boolean()),
  stop_sequences: Type.Optional(Type.Array(Type.String())),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0 })),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) })),
});
