import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignedInUser } from '../support/api-users.ts';
import {
  listDocumentedRoutes,
  readOpenApiDocument,
  type DocumentedRoute,
  type OpenApiDocument,
} from '../support/route-table.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const problemContentType = 'application/problem+json';

describe('the OpenAPI document', () => {
  let testApp: TestApp;
  let document: OpenApiDocument;
  let managementRoutes: DocumentedRoute[];

  beforeAll(async () => {
    testApp = await startTestApp();
    document = await readOpenApiDocument(testApp.instance.app);
    managementRoutes = listDocumentedRoutes(document);
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('AI Hub API');
    // The validator dereferences in place; the tests below read the document as served.
    const result = await validate(structuredClone(document) as unknown as Parameters<typeof validate>[0]);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it('is checked by a validator that does reject a broken copy', async () => {
    const broken = structuredClone(document) as unknown as { info: { version?: string }; paths: object };
    delete broken.info.version;
    broken.paths = { 'api/v1/no-leading-slash': { get: { responses: {} } } };
    const result = await validate(broken as unknown as Parameters<typeof validate>[0]);
    expect(result.valid).toBe(false);
  });

  it('describes every management route with a summary and a tag', () => {
    expect(managementRoutes.length).toBeGreaterThan(30);
    for (const route of managementRoutes) {
      expect(route.operation.summary?.trim(), route.key).toBeTruthy();
      expect(route.operation.tags?.length, route.key).toBeGreaterThan(0);
    }
  });

  it('gives every management route a success answer, with a JSON schema wherever it has a body', () => {
    for (const route of managementRoutes) {
      const responses = Object.entries(route.operation.responses ?? {});
      const successes = responses.filter(([status]) => /^[23]\d\d$/.test(status));
      expect(successes.length, `${route.key} documents no success answer`).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        // 202 and 204 answer without a body, and so do the single sign-on redirects (302).
        if (status === '202' || status === '204' || status.startsWith('3')) continue;
        expect(response.content?.['application/json']?.schema, `${route.key} ${status}`).toBeDefined();
      }
    }
  });

  it('documents problem+json errors on every management route', () => {
    for (const route of managementRoutes) {
      const errors = Object.entries(route.operation.responses ?? {}).filter(([status]) => /^4/.test(status));
      expect(errors.length, `${route.key} documents no error answer`).toBeGreaterThan(0);
      for (const [status, response] of errors) {
        expect(Object.keys(response.content ?? {}), `${route.key} ${status}`).toEqual([problemContentType]);
      }
    }
  });

  it('documents the problem fields an actual error answer has', async () => {
    const schema = managementRoutes.find((route) => route.key === 'GET /api/v1/organizations/{org_id}')?.operation
      .responses?.['4XX']?.content?.[problemContentType]?.schema as
      { required: string[]; properties: Record<string, unknown> } | undefined;
    expect(schema).toBeDefined();
    const user = await createSignedInUser(testApp);
    const response = await testApp.instance.app.inject({
      method: 'GET',
      url: '/api/v1/organizations/org_does_not_exist',
      headers: { authorization: user.headers.authorization ?? '' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json<Record<string, unknown>>();
    for (const field of schema?.required ?? []) expect(problem, field).toHaveProperty(field);
    expect(Object.keys(problem).filter((field) => !(field in (schema?.properties ?? {})))).toEqual([]);
  });

  it('marks exactly the v1 organization read deprecated, and not its v2 successor', () => {
    const deprecated = managementRoutes.filter((route) => route.operation.deprecated).map((route) => route.key);
    expect(deprecated).toEqual(['GET /api/v1/organizations/{org_id}']);
    expect(document.paths['/api/v2/organizations/{org_id}']?.get?.deprecated).toBeUndefined();
  });
});
