import { AppError } from '../errors/app-error.ts';

export interface PageRequest {
  limit: number;
  /** The last row of the previous page: its sort value and id (ties broken by id). */
  after: { sortValue: string | number; id: string } | undefined;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const defaultPageSize = 50;
const maxPageSize = 200;

export function readPageRequest(query: { limit?: string; cursor?: string }): PageRequest {
  const limit = query.limit === undefined ? defaultPageSize : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw new AppError('invalid_request', `limit must be between 1 and ${maxPageSize}`, { param: 'limit' });
  }
  return { limit, after: query.cursor === undefined ? undefined : decodeCursor(query.cursor) };
}

function encodeCursor(sortValue: string | number, id: string): string {
  return Buffer.from(JSON.stringify([sortValue, id])).toString('base64url');
}

function decodeCursor(cursor: string): { sortValue: string | number; id: string } {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2) {
      const [sortValue, id] = decoded as [unknown, unknown];
      // Numeric sort values are epoch milliseconds: a fraction or a number past 2^53 cannot be one, and PostgreSQL
      // would refuse it as a bigint; no stored text holds U+0000 either.
      const storableSortValue =
        (typeof sortValue === 'string' && !sortValue.includes('\u0000')) ||
        (typeof sortValue === 'number' && Number.isSafeInteger(sortValue));
      if (storableSortValue && typeof id === 'string' && id !== '' && !id.includes('\u0000')) {
        return { sortValue, id };
      }
    }
  } catch {
    // Fall through to the error below: a cursor is either ours or malformed.
  }
  throw new AppError('invalid_cursor', 'the cursor is malformed; pass back next_cursor exactly as received', {
    param: 'cursor',
  });
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only proves there is a next page.
 * Repositories fetch `limit + 1` rows ordered by (sortValue, id) after `after`.
 */
export function toPage<Row, Item>(
  rows: readonly Row[],
  request: PageRequest,
  cursorOf: (row: Row) => [string | number, string],
  present: (row: Row) => Item,
): Page<Item> {
  const hasMore = rows.length > request.limit;
  const pageRows = hasMore ? rows.slice(0, request.limit) : rows;
  const last = pageRows.at(-1);
  return {
    data: pageRows.map(present),
    next_cursor: hasMore && last !== undefined ? encodeCursor(...cursorOf(last)) : null,
  };
}
