/** Pre-serialised `/v1/models` bodies: the list never changes between `setOptions` calls, so it is built once. */
export interface ModelCatalog {
  readonly listBody: string;
  findModelBody(id: string): string | undefined;
}

// A fixed timestamp keeps the bodies byte-identical across runs.
const modelCreatedAt = 1_700_000_000;

export function buildModelCatalog(modelIds: readonly string[]): ModelCatalog {
  const bodies = new Map<string, string>();
  const models = modelIds.map((id) => {
    const model = { id, object: 'model', created: modelCreatedAt, owned_by: 'mock-upstream' };
    bodies.set(id, JSON.stringify(model));
    return model;
  });
  const listBody = JSON.stringify({ object: 'list', data: models });
  return { listBody, findModelBody: (id) => bodies.get(id) };
}
