import { AppError } from '../errors/app-error.ts';

/**
 * PostgreSQL text cannot hold U+0000 (the driver's query fails), and SQLite would store a string that C-string
 * tooling cuts short, so no management request may carry one: a 400 naming the field, on both engines alike.
 */
export function assertNoNulCharacter(location: 'path' | 'query' | 'body', value: unknown): void {
  const field = findNulCharacter(value);
  if (field === undefined) return;
  const param = field === '' ? location : field;
  throw new AppError('invalid_request', `${param} must not contain the NUL character (U+0000)`, { param });
}

/** The dotted path of the first string (or object key) holding U+0000, '' for the value itself; walked without recursion. */
function findNulCharacter(value: unknown): string | undefined {
  const pending: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (pending.length > 0) {
    const { value: current, path } = pending.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return path;
    } else if (Array.isArray(current)) {
      current.forEach((child, index) => pending.push({ value: child, path: `${path}[${index}]` }));
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (key.includes('\u0000')) return childPath;
        pending.push({ value: child, path: childPath });
      }
    }
  }
  return undefined;
}
