/** JSON text spliced into a body as it is: nesting too deep for JSON.stringify to write, numbers it cannot write. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** JSON.stringify, with RawJson values written as their text. */
export function serialize(payload: unknown): string {
  const raws: string[] = [];
  const json = JSON.stringify(payload, (_key, value: unknown) =>
    value instanceof RawJson ? `@@raw${raws.push(value.text) - 1}@@` : value,
  );
  return (json ?? 'null').replace(/"@@raw(\d+)@@"/g, (_match, index: string) => raws[Number(index)] ?? 'null');
}
