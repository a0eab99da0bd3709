/**
 * A table lookup by a client- or upstream-supplied key that ignores the prototype: `table['constructor']` is
 * Object's constructor, not "no entry", and such a value must not slip into a request as if it were a mapping.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
