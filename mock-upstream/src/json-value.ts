/** Narrowing for parsed JSON bodies: the mock reads a few fields and never trusts their types. */
export type JsonRecord = Record<string, unknown>;

export function isJsonRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
