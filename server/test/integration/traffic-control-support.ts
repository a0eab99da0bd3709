import type { LightMyRequestResponse } from 'fastify';
import type { AppInstance } from '../../src/http/create-app.ts';
import type { OrgScope } from '../../src/modules/shared/index.ts';
import { TrafficService } from '../../src/modules/traffic/index.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import type { TestApp } from '../support/test-app.ts';

/** An organization of its own per test, so rules of one test never reach another's keys. */
export interface Tenant {
  readonly owner: SignedInUser;
  readonly orgId: string;
}

export interface OrgKey {
  readonly id: string;
  readonly secret: string;
}

export async function createTenant(testApp: TestApp): Promise<Tenant> {
  const owner = await createSignedInUser(testApp);
  const orgId = await createOrganization(testApp, owner, `Traffic ${owner.userId.slice(0, 8)}`);
  return { owner, orgId };
}

/** A key made through the management API as `user` (default: the owner), with any key fields (snake_case). */
export async function createOrgKey(
  testApp: TestApp,
  tenant: Tenant,
  body: Record<string, unknown> = {},
  user: SignedInUser = tenant.owner,
): Promise<OrgKey> {
  const response = await testApp.instance.app.inject({
    method: 'POST',
    url: `/api/v1/organizations/${tenant.orgId}/keys`,
    headers: user.headers,
    payload: { name: 'traffic test key', ...body },
  });
  if (response.statusCode !== 201) throw new Error(`key creation failed: ${response.statusCode} ${response.body}`);
  return response.json<OrgKey>();
}

/** PATCH of a key's fields through the management API. */
export function patchKey(
  testApp: TestApp,
  tenant: Tenant,
  keyId: string,
  body: Record<string, unknown>,
  instance: AppInstance = testApp.instance,
): Promise<LightMyRequestResponse> {
  return instance.app.inject({
    method: 'PATCH',
    url: `/api/v1/organizations/${tenant.orgId}/keys/${keyId}`,
    headers: tenant.owner.headers,
    payload: body,
  });
}

export function getKey(testApp: TestApp, tenant: Tenant, keyId: string): Promise<LightMyRequestResponse> {
  return testApp.instance.app.inject({
    method: 'GET',
    url: `/api/v1/organizations/${tenant.orgId}/keys/${keyId}`,
    headers: tenant.owner.headers,
  });
}

/** A management API call in the tenant's organization as its owner; `path` follows `/organizations/{org_id}`. */
export function manage(
  testApp: TestApp,
  tenant: Tenant,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  instance: AppInstance = testApp.instance,
): Promise<LightMyRequestResponse> {
  return instance.app.inject({
    method,
    url: `/api/v1/organizations/${tenant.orgId}${path}`,
    headers: body === undefined ? { authorization: tenant.owner.headers.authorization ?? '' } : tenant.owner.headers,
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

/** Creates a limit rule through the API and makes the instances drop their cached rules at once. */
export async function createLimitRule(
  testApp: TestApp,
  tenant: Tenant,
  body: Record<string, unknown>,
  ...instances: AppInstance[]
): Promise<{ id: string }> {
  const response = await manage(testApp, tenant, 'POST', '/limits', body);
  if (response.statusCode !== 201) throw new Error(`limit creation failed: ${response.statusCode} ${response.body}`);
  await pollTraffic(testApp.instance, ...instances);
  return response.json<{ id: string }>();
}

/** A budget rule as the API shows it, with its live figures. */
export interface BudgetRuleView {
  readonly id: string;
  readonly amount_micros: number;
  readonly spent_micros: number;
  readonly reserved_micros: number;
  readonly remaining_micros: number;
  readonly resets_at: number | null;
}

export async function createBudgetRule(
  testApp: TestApp,
  tenant: Tenant,
  body: Record<string, unknown>,
): Promise<BudgetRuleView> {
  const response = await manage(testApp, tenant, 'POST', '/budgets', body);
  if (response.statusCode !== 201) throw new Error(`budget creation failed: ${response.statusCode} ${response.body}`);
  await pollTraffic(testApp.instance);
  return response.json<BudgetRuleView>();
}

/**
 * The traffic rules' service on the test database, for creating limits and budgets as the organization's owner (the
 * management routes go through the same methods).
 */
export function trafficRules(testApp: TestApp): TrafficService {
  return new TrafficService({ db: testApp.instance.services.database.db, access: { mayReadAllTraffic: () => true } });
}

export function ownerScope(tenant: Tenant): OrgScope {
  return {
    orgId: tenant.orgId,
    role: 'owner',
    actor: { userId: tenant.owner.userId, platformRole: 'member', via: 'session' },
  } as unknown as OrgScope;
}

/** Makes every instance drop its cached rules now instead of at its next poll. */
export async function pollTraffic(...instances: AppInstance[]): Promise<void> {
  for (const instance of instances) await instance.services.traffic.control.poll();
}

export interface GatewayCall {
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
}

export const chatBody = { model: 'test', messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 };

export function callGateway(
  instance: AppInstance,
  secret: string,
  call: GatewayCall = { path: '/v1/chat/completions', body: chatBody },
): Promise<LightMyRequestResponse> {
  return instance.app.inject({
    method: call.method ?? 'POST',
    url: call.path,
    headers: {
      authorization: `Bearer ${secret}`,
      ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(call.body === undefined ? {} : { payload: JSON.stringify(call.body) }),
  });
}

export function chat(instance: AppInstance, secret: string, body: Record<string, unknown> = {}) {
  return callGateway(instance, secret, { path: '/v1/chat/completions', body: { ...chatBody, ...body } });
}

export interface OpenAiError {
  readonly error: { readonly code: string; readonly message: string; readonly type: string };
}

export function errorOf(response: LightMyRequestResponse): OpenAiError['error'] {
  return response.json<OpenAiError>().error;
}

/** Usage records of one key after the journal has written everything. */
export async function usageOfKey(testApp: TestApp, keyId: string, instances: readonly AppInstance[] = []) {
  for (const instance of [testApp.instance, ...instances]) await instance.services.gateway.journal.flush();
  const records = await testApp.instance.services.usage.listRecent(10_000);
  return records.filter((record) => record.key_id === keyId);
}

export function sumCost(records: readonly { cost_micros: number | string }[]): number {
  return records.reduce((sum, record) => sum + Number(record.cost_micros), 0);
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
