import { sql, type Expression, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { AppError } from '../../errors/app-error.ts';

/** The order of a list: one sortable field and a direction; ties are always broken by the row id. */
export interface ListSort<Field extends string> {
  readonly field: Field;
  readonly direction: 'asc' | 'desc';
}

/** Where the previous page ended: the last row's sort value and id (see api/pagination.ts). */
export interface ListAfter {
  readonly sortValue: string | number;
  readonly id: string;
}

export interface ListWindow<Field extends string> {
  readonly sort: ListSort<Field>;
  readonly limit: number;
  readonly after: ListAfter | undefined;
}

/**
 * Reads `sort=field` or `sort=-field` against the fields a list allows. Anything else is a 400 naming the allowed
 * values, so a typo never silently falls back to another order.
 */
export function parseSort<Field extends string>(
  value: string | undefined,
  allowed: readonly Field[],
  fallback: ListSort<Field>,
): ListSort<Field> {
  if (value === undefined || value === '') return fallback;
  const direction = value.startsWith('-') ? 'desc' : 'asc';
  const field = direction === 'desc' ? value.slice(1) : value;
  const match = allowed.find((candidate) => candidate === field);
  if (match === undefined) {
    const choices = allowed.flatMap((candidate) => [candidate, `-${candidate}`]).join(', ');
    throw new AppError('invalid_request', `sort must be one of ${choices}`, { param: 'sort' });
  }
  return { field: match, direction };
}

/**
 * A cursor made under one sort must carry a value of that sort's type; one from another order (or a forged one)
 * is malformed rather than silently paging from the wrong place.
 */
export function checkCursorType(after: ListAfter | undefined, expected: 'string' | 'number'): ListAfter | undefined {
  if (after !== undefined && typeof after.sortValue !== expected) {
    throw new AppError('invalid_cursor', 'the cursor does not belong to this list or sort order', { param: 'cursor' });
  }
  return after;
}

/** `(column, id) > (value, id)` in the list's direction, written out so both engines plan it the same way. */
export function keysetCondition(
  column: string,
  idColumn: string,
  direction: 'asc' | 'desc',
  after: ListAfter,
): Expression<SqlBool> {
  const comparison = sql.raw(direction === 'asc' ? '>' : '<');
  return sql<SqlBool>`(${sql.ref(column)} ${comparison} ${after.sortValue} or (${sql.ref(column)} = ${after.sortValue} and ${sql.ref(idColumn)} ${comparison} ${after.id}))`;
}

/** Case-insensitive "contains" that treats `%` and `_` in the search text literally, on SQLite and PostgreSQL. */
export function containsCondition(column: string, text: string): Expression<SqlBool> {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}

/**
 * Orders a list query by `column` then `idColumn` in the window's direction, starts after the cursor and fetches
 * one row more than the page so `toPage` can tell whether another page exists.
 */
export function pageQuery<DB, TB extends keyof DB, Output>(
  query: SelectQueryBuilder<DB, TB, Output>,
  columns: { sort: string; id: string; sortType: 'string' | 'number' },
  window: ListWindow<string>,
): SelectQueryBuilder<DB, TB, Output> {
  const after = checkCursorType(window.after, columns.sortType);
  const started = after ? query.where(keysetCondition(columns.sort, columns.id, window.sort.direction, after)) : query;
  return started
    .orderBy(sql.ref(columns.sort), window.sort.direction)
    .orderBy(sql.ref(columns.id), window.sort.direction)
    .limit(window.limit + 1);
}
