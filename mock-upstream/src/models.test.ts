import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';
import { readJson, type ErrorBody, type ModelBody, type ModelListBody } from './test-support.ts';

describe('GET /v1/models', () => {
  let upstream: MockUpstreamHandle;
  beforeAll(async () => {
    upstream = await startMockUpstream();
  });
  afterAll(() => upstream.close());

  it('lists the default models in OpenAI list format', async () => {
    const response = await fetch(`${upstream.url}/models`);
    expect(response.status).toBe(200);
    const body = await readJson<ModelListBody>(response);
    expect(body.object).toBe('list');
    expect(body.data.map((model) => model.id)).toEqual(['mock-gpt', 'mock-embed']);
    expect(body.data[0]).toEqual({
      id: 'mock-gpt',
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'mock-upstream',
    });
  });

  it('retrieves one model and 404s an unknown one', async () => {
    const found = await fetch(`${upstream.url}/models/mock-embed`);
    expect(await readJson<ModelBody>(found)).toMatchObject({ id: 'mock-embed', object: 'model' });

    const missing = await fetch(`${upstream.url}/models/nope`);
    expect(missing.status).toBe(404);
    expect((await readJson<ErrorBody>(missing)).error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('serves a configured list, including ids with a slash, and follows setOptions', async () => {
    const custom = await startMockUpstream({ models: ['org/model-a'] });
    try {
      const found = await fetch(`${custom.url}/models/org/model-a`);
      expect((await readJson<ModelBody>(found)).id).toBe('org/model-a');

      custom.setOptions({ models: ['model-b'] });
      const list = await readJson<ModelListBody>(await fetch(`${custom.url}/models`));
      expect(list.data.map((model) => model.id)).toEqual(['model-b']);
    } finally {
      await custom.close();
    }
  });
});
