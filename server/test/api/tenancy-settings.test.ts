import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { readSsoSettings } from '../../src/modules/tenancy/index.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, storedAuditEvents } from './tenancy-support.ts';

const clientSecret = 'super-secret-client-value-123';

describe.each(testEngines)('organization settings on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let secretBox: SecretBox;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    secretBox = new SecretBox(testApp.config.secretKey);
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Settings Co');
  });
  afterAll(async () => {
    await testApp.close();
  });

  const settingsUrl = () => `/api/v1/organizations/${orgId}/settings`;
  const patch = (body: unknown) => callApi(testApp, owner, 'PATCH', settingsUrl(), { body });

  it('reads complete defaults for a new organization', async () => {
    const response = await callApi(testApp, owner, 'GET', settingsUrl());
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      default_models: [],
      allowed_providers: [],
      data_retention_days: 90,
      request_body_logging: false,
      time_zone: 'UTC',
      sso: {
        enabled: false,
        issuer: null,
        client_id: null,
        client_secret_set: false,
        default_role: 'member',
        allowed_domains: [],
      },
    });
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, secretBox)).toBeUndefined();
  });

  it('updates fields partially, seals the client secret and never returns it', async () => {
    const response = await patch({
      default_models: ['gpt-test', 'gpt-test'],
      allowed_providers: ['mock'],
      data_retention_days: 30,
      request_body_logging: true,
      sso: {
        enabled: true,
        issuer: 'https://login.example.com/tenant',
        client_id: 'aihub-client',
        client_secret: clientSecret,
        default_role: 'viewer',
        allowed_domains: ['Example.COM'],
      },
    });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain(clientSecret);
    expect(response.json()).toEqual({
      default_models: ['gpt-test'],
      allowed_providers: ['mock'],
      data_retention_days: 30,
      request_body_logging: true,
      time_zone: 'UTC',
      sso: {
        enabled: true,
        issuer: 'https://login.example.com/tenant',
        client_id: 'aihub-client',
        client_secret_set: true,
        default_role: 'viewer',
        allowed_domains: ['example.com'],
      },
    });

    const row = await testApp.instance.services.database.db
      .selectFrom('organizations')
      .select('settings')
      .where('id', '=', orgId)
      .executeTakeFirstOrThrow();
    expect(row.settings).not.toContain(clientSecret);
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, secretBox)).toEqual({
      enabled: true,
      issuer: 'https://login.example.com/tenant',
      clientId: 'aihub-client',
      clientSecret,
      defaultRole: 'viewer',
      allowedDomains: ['example.com'],
    });

    const onlyRetention = await patch({ data_retention_days: 365 });
    expect(onlyRetention.json()).toMatchObject({
      data_retention_days: 365,
      request_body_logging: true,
      sso: { enabled: true, client_secret_set: true },
    });

    const events = await storedAuditEvents(testApp, orgId);
    expect(JSON.stringify(events)).not.toContain(clientSecret);
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'organization.settings_update',
        target_type: 'organization_settings',
        before: expect.objectContaining({
          request_body_logging: false,
          sso: expect.objectContaining({ enabled: false, has_client_credential: false }),
        }),
        after: expect.objectContaining({
          request_body_logging: true,
          sso: expect.objectContaining({ enabled: true, has_client_credential: true }),
        }),
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        before: expect.objectContaining({ data_retention_days: 30 }),
        after: expect.objectContaining({ data_retention_days: 365 }),
      }),
    );
  });

  it('validates the issuer, retention range, roles and SSO completeness without writing', async () => {
    const before = await callApi(testApp, owner, 'GET', settingsUrl());
    const invalid: unknown[] = [
      { sso: { issuer: 'http://login.example.com' } },
      { sso: { issuer: 'not a url' } },
      { sso: { issuer: 'https://user:pass@login.example.com' } },
      { sso: { issuer: 'https://login.example.com/?tenant=1' } },
      { data_retention_days: 0 },
      { data_retention_days: 3651 },
      { data_retention_days: 1.5 },
      { sso: { default_role: 'owner' } },
      { sso: { allowed_domains: ['not a domain'] } },
      { sso: { client_secret: null } },
      { unknown_setting: true },
    ];
    for (const body of invalid) {
      const response = await patch(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await callApi(testApp, owner, 'GET', settingsUrl())).json()).toEqual(before.json());
    const loopback = await patch({ sso: { issuer: 'http://127.0.0.1:9999/oidc' } });
    expect(loopback.statusCode).toBe(200);
  });

  it('clears the secret and disables SSO; readSsoSettings ignores deleted organizations', async () => {
    const cleared = await patch({ sso: { enabled: false, client_secret: null } });
    expect(cleared.json()).toMatchObject({ sso: { enabled: false, client_secret_set: false } });
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, secretBox)).toBeUndefined();

    await patch({ sso: { enabled: true, client_secret: clientSecret } });
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, secretBox)).toMatchObject({
      clientSecret,
    });
    const otherBox = new SecretBox(Buffer.alloc(32, 7));
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, otherBox)).toBeUndefined();
    await callApi(testApp, owner, 'DELETE', `/api/v1/organizations/${orgId}`);
    expect(await readSsoSettings(testApp.instance.services.database.db, orgId, secretBox)).toBeUndefined();
  });
});
