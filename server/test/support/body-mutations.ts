import fc from 'fast-check';
import { RawJson } from './raw-json.ts';

/**
 * Mutations for fuzzing request bodies: a valid body is deep-copied and 1–3 of its values are replaced, removed, or
 * given an extra member or item. What a wrong value or a new field name may be is up to each fuzz test.
 */

/** Arrays or objects nested 60 to 12,000 deep, too deep for JSON.stringify to write. */
export const deepNesting = fc
  .tuple(fc.integer({ min: 60, max: 12_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => new RawJson(open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth)));

type Path = (string | number)[];

/** Every path to a value inside `value` (the root excluded), found without recursion. */
function pathsOf(value: unknown): Path[] {
  const paths: Path[] = [];
  const pending: { value: unknown; path: Path }[] = [{ value, path: [] }];
  while (pending.length > 0) {
    const { value: current, path } = pending.pop()!;
    if (path.length > 0) paths.push(path);
    if (Array.isArray(current))
      current.forEach((child, index) => pending.push({ value: child, path: [...path, index] }));
    else if (current !== null && typeof current === 'object' && !(current instanceof RawJson)) {
      for (const [key, child] of Object.entries(current)) pending.push({ value: child, path: [...path, key] });
    }
  }
  return paths;
}

export interface Mutation {
  readonly pick: number;
  readonly operation: 'replace' | 'delete' | 'add';
  readonly value: unknown;
  readonly key: string;
}

/** One mutation: half replace a value with `wrongValue`, a quarter delete one, a quarter add a `fieldName` member. */
export function mutationOf(wrongValue: fc.Arbitrary<unknown>, fieldName: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  return fc.record({
    pick: fc.nat(),
    operation: fc.constantFrom('replace', 'replace', 'delete', 'add'),
    value: wrongValue,
    key: fc.oneof(fieldName, fc.string({ maxLength: 8 })),
  });
}

/**
 * Applies mutations to a deep copy of `body`. A body that is not an object is returned as it is; a mutation of an
 * object with nothing inside adds its member at the top.
 */
export function mutate(body: unknown, mutations: readonly Mutation[]): unknown {
  if (body === null || typeof body !== 'object') return body;
  const copy = structuredClone(body) as Record<string | number, unknown>;
  for (const { pick, operation, value, key } of mutations) {
    const paths = pathsOf(copy);
    const path = paths[pick % Math.max(paths.length, 1)];
    if (!path) {
      copy[key] = value;
      continue;
    }
    let parent: unknown = copy;
    for (const segment of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[segment];
    const last = path.at(-1)!;
    const container = parent as Record<string | number, unknown>;
    if (operation === 'replace') container[last] = value;
    else if (operation === 'delete') {
      if (Array.isArray(container) && typeof last === 'number') container.splice(last, 1);
      else delete container[last];
    } else {
      const target = container[last];
      if (Array.isArray(target)) target.push(value);
      else if (target !== null && typeof target === 'object' && !(target instanceof RawJson)) {
        (target as Record<string, unknown>)[key] = value;
      } else copy[key] = value;
    }
  }
  return copy;
}
