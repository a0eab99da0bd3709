import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors/app-error.ts';

/**
 * How deep arrays and objects may nest in a gateway request body. Real requests stay far below it (a tool schema
 * nested twenty levels is unusual); the bound keeps every recursive step after parsing (serialising the upstream
 * body, converting tool schemas) far from the stack limit, which a body nested 10,000 levels deep would exceed.
 */
export const maxBodyNestingDepth = 64;

/**
 * Walks a parsed body without recursion and throws a 400 naming the first path nested deeper than the limit.
 * Runs before schema validation, so no later step ever sees a deeper body.
 */
export function assertNestingDepth(body: unknown, limit = maxBodyNestingDepth): void {
  if (body === null || typeof body !== 'object') return;
  // Each entry: the value, its depth, and how to name it if it turns out to be too deep.
  const stack: { value: object; depth: number; parent: number; key: string | number }[] = [
    { value: body, depth: 1, parent: -1, key: '' },
  ];
  const visited: { parent: number; key: string | number }[] = [];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const index = visited.push({ parent: entry.parent, key: entry.key }) - 1;
    if (entry.depth > limit) {
      throw new AppError(
        'invalid_request',
        `the request body nests arrays and objects more than ${limit} levels deep`,
        {
          param: pathOf(visited, index),
        },
      );
    }
    const { value, depth } = entry;
    if (Array.isArray(value)) {
      for (let position = 0; position < value.length; position += 1) {
        const child: unknown = value[position];
        if (child !== null && typeof child === 'object')
          stack.push({ value: child, depth: depth + 1, parent: index, key: position });
      }
    } else {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const child = record[key];
        if (child !== null && typeof child === 'object')
          stack.push({ value: child, depth: depth + 1, parent: index, key });
      }
    }
  }
}

function pathOf(visited: readonly { parent: number; key: string | number }[], index: number): string {
  const keys: (string | number)[] = [];
  for (let at = index; at > 0; at = visited[at]!.parent) keys.unshift(visited[at]!.key);
  return keys
    .map((key, position) => (typeof key === 'number' ? `[${key}]` : position === 0 ? key : `.${key}`))
    .join('');
}

/** A route's preValidation hook: refuses too-deep bodies before anything else reads them. */
export function rejectDeeplyNestedBody(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  try {
    assertNestingDepth(request.body);
    done();
  } catch (error) {
    done(error as AppError);
  }
}
