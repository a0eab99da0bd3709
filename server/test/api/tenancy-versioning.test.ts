import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { callApi } from './tenancy-support.ts';

const versioningDoc = path.resolve(import.meta.dirname, '../../../docs/api-versioning.md');

interface OpenApiDocument {
  paths: Record<string, Record<string, { deprecated?: boolean; tags?: string[] }>>;
}

describe('API versioning', () => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Versioned');
    await addMember(testApp, orgId, await createSignedInUser(testApp), 'viewer');
    await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'One' } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('keeps the v1 shape of GET /organizations/{org_id} and announces its deprecation in headers', async () => {
    const response = await callApi(testApp, owner, 'GET', `/api/v1/organizations/${orgId}`);
    expect(response.statusCode).toBe(200);
    expect(Object.keys(response.json<object>()).sort()).toEqual(['created_at', 'id', 'name', 'role', 'updated_at']);
    expect(response.json()).toMatchObject({ created_at: expect.any(Number) });
    expect(response.headers.deprecation).toBe(`@${Date.parse('2026-11-26') / 1000}`);
    expect(response.headers.sunset).toBe(new Date('2027-06-30').toUTCString());
    expect(response.headers.link).toBe(`</api/v2/organizations/${orgId}>; rel="successor-version"`);
  });

  it('sends no deprecation headers on routes that are not deprecated', async () => {
    const response = await callApi(testApp, owner, 'GET', `/api/v1/organizations/${orgId}/settings`);
    expect(response.statusCode).toBe(200);
    expect(response.headers.deprecation).toBeUndefined();
    expect(response.headers.sunset).toBeUndefined();
  });

  it('serves the v2 shape at /api/v2/organizations/{org_id}: nested settings and counts, ISO times', async () => {
    const response = await callApi(testApp, owner, 'GET', `/api/v2/organizations/${orgId}`);
    expect(response.statusCode, 'wire managementRoutesV2 under /api/v2 in management-api.ts').toBe(200);
    const body = response.json<Record<string, unknown>>();
    expect(body).toEqual({
      id: orgId,
      name: 'Versioned',
      role: 'owner',
      settings: expect.objectContaining({ data_retention_days: 90, sso: expect.objectContaining({ enabled: false }) }),
      counts: { members: 2, teams: 1 },
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    expect(response.headers.deprecation).toBeUndefined();
    const outsider = await createSignedInUser(testApp);
    expect((await callApi(testApp, outsider, 'GET', `/api/v2/organizations/${orgId}`)).statusCode).toBe(404);
    expect((await callApi(testApp, undefined, 'GET', `/api/v2/organizations/${orgId}`)).statusCode).toBe(401);
  });

  it('marks deprecated operations in the OpenAPI document, and docs/api-versioning.md lists each of them', async () => {
    const response = await testApp.instance.app.inject({ method: 'GET', url: '/api/openapi.json' });
    const document = response.json<OpenApiDocument>();
    const deprecated = Object.entries(document.paths).flatMap(([route, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.deprecated === true)
        .map(([method]) => `${method.toUpperCase()} ${route}`),
    );
    expect(deprecated).toContain('GET /api/v1/organizations/{org_id}');
    const documentation = readFileSync(versioningDoc, 'utf8');
    for (const operation of deprecated) expect(documentation, operation).toContain(`\`${operation}\``);
    for (const route of ['/api/v1/organizations', '/api/v1/organizations/{org_id}/teams']) {
      expect(document.paths[route]?.get?.tags?.length, route).toBeGreaterThan(0);
    }
  });
});
