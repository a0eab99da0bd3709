import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors/app-error.ts';

/**
 * How deep arrays and objects may nest in a gateway request body. Real requests stay far below it (a tool schema
 * nested twenty levels is unusual); the bound keeps every recursive step after parsing (serialising the upstream
 * body, converting tool schemas) far from the stack limit, which a body nested 10,000 levels deep would exceed.
 */
export const maxBodyNestingDepth = 64;

/**
 * Throws a 400 naming the first path (in document order) nested deeper than the limit. Runs before schema
 * validation, so no later step ever sees a deeper body. It runs on every gateway request, so the walk allocates
 * nothing unless it fails; its recursion is bounded by the limit, so the walk itself stays far from the stack limit.
 */
export function assertNestingDepth(body: unknown, limit = maxBodyNestingDepth): void {
  if (body === null || typeof body !== 'object') return;
  const path: (string | number)[] = [];
  if (!exceedsDepth(body, 1, limit, path)) return;
  throw new AppError('invalid_request', `the request body nests arrays and objects more than ${limit} levels deep`, {
    param: formatPath(path.reverse()),
  });
}

/** Whether `value` (at `depth`) holds a value deeper than `limit`; if so, `path` receives its keys, innermost first. */
function exceedsDepth(value: object, depth: number, limit: number, path: (string | number)[]): boolean {
  if (depth > limit) return true;
  if (Array.isArray(value)) {
    for (let position = 0; position < value.length; position += 1) {
      const child: unknown = value[position];
      if (child !== null && typeof child === 'object' && exceedsDepth(child, depth + 1, limit, path)) {
        path.push(position);
        return true;
      }
    }
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const child = record[key];
    if (child !== null && typeof child === 'object' && exceedsDepth(child, depth + 1, limit, path)) {
      path.push(key);
      return true;
    }
  }
  return false;
}

function formatPath(keys: readonly (string | number)[]): string {
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
