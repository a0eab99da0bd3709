import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrgRole } from '../../src/db/schema.ts';
import { orgRoles, permissions, type Action } from '../../src/modules/tenancy/index.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import {
  listDocumentedRoutes,
  listServedRoutes,
  isManagementPath,
  readOpenApiDocument,
  type DocumentedRoute,
} from '../support/route-table.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, problemCode, type Method } from './tenancy-support.ts';

/**
 * The cross-tenant and role matrix, generated from the live route table: every management route that addresses a
 * resource gets its cases from `routeRules` below. A route that appears without an entry fails the suite, so the
 * matrix stays complete as the API grows.
 */

/** One organization with a resource of every kind, addressed by the generated URLs. */
interface OrgWorld {
  readonly orgId: string;
  /** One signed-in holder of each organization role; `owner` created the organization. */
  readonly roles: Readonly<Record<OrgRole, SignedInUser>>;
  /** An org `member`, also a member of `teamId`: the user the member and team-member routes act on. */
  readonly subject: SignedInUser;
  readonly teamId: string;
  readonly keyId: string;
  readonly invitationId: string;
  /** The organization's own provider (with credential `default`) and model, in its model registry. */
  readonly providerId: string;
  readonly credentialId: string;
  readonly modelName: string;
  /** A limit and a budget of the team (every member may read those). */
  readonly limitId: string;
  readonly budgetId: string;
  /** What only this organization's members may ever see: its names, its people's emails, its key prefix. */
  readonly secrets: readonly string[];
}

type RouteRule =
  /** Authorized in the organization it names: outsiders get 404, roles the matrix does not allow `action` 403. */
  | {
      readonly kind: 'org';
      readonly action: Action;
      /** The smallest valid body, so that only authorization can refuse the call. */
      readonly body?: (world: OrgWorld) => unknown;
      /** What the owner gets when it is not a 2xx (leaving as the owner is a conflict, not a denial). */
      readonly ownerStatus?: number;
    }
  /** Public by design (single sign-on): the answer may not depend on who asks. */
  | { readonly kind: 'public' }
  /** Addressed by an invitation's secret token rather than an organization: see the invitation token tests. */
  | { readonly kind: 'invitation-token' }
  /** Platform-wide (`Authorizer.authorizePlatform`): every organization role, the owner included, gets 403. */
  | {
      readonly kind: 'platform';
      readonly body?: (world: OrgWorld) => unknown;
      /**
       * What a platform admin gets at the world's URL (default 200). The platform registry routes answer 404: an
       * organization's provider or model is not reachable through them, even for a platform admin.
       */
      readonly adminStatus?: number;
    };

const requires = (action: Action, options: Omit<Extract<RouteRule, { kind: 'org' }>, 'kind' | 'action'> = {}) =>
  ({ kind: 'org', action, ...options }) as const;

const organization = '/api/v1/organizations/{org_id}';

/** A platform registry route, addressed with an organization's own entry: 403 for everyone but platform admins. */
const platformRegistry = (body?: (world: OrgWorld) => unknown): RouteRule => ({
  kind: 'platform',
  adminStatus: 404,
  ...(body === undefined ? {} : { body }),
});

/**
 * The action each route authorizes (as the route handler passes it to `Authorizer.authorize`), keyed like the
 * OpenAPI document. Every route with a path parameter or a required `*_id` query parameter needs an entry.
 */
const routeRules: Readonly<Record<string, RouteRule>> = {
  [`GET ${organization}`]: requires('org.read'),
  'GET /api/v2/organizations/{org_id}': requires('org.read'),
  [`PATCH ${organization}`]: requires('org.update', { body: () => ({ name: 'Renamed by the matrix' }) }),
  [`DELETE ${organization}`]: requires('org.delete'),
  [`POST ${organization}/transfer-ownership`]: requires('org.transfer', {
    body: (world) => ({ user_id: world.subject.userId }),
  }),
  [`POST ${organization}/leave`]: requires('org.leave', { ownerStatus: 409 }),
  [`GET ${organization}/settings`]: requires('settings.read'),
  [`PATCH ${organization}/settings`]: requires('settings.update', { body: () => ({ request_body_logging: true }) }),
  [`GET ${organization}/members`]: requires('members.read'),
  [`PATCH ${organization}/members/{user_id}`]: requires('members.update', { body: () => ({ role: 'viewer' }) }),
  [`DELETE ${organization}/members/{user_id}`]: requires('members.remove'),
  [`POST ${organization}/invitations`]: requires('members.invite', {
    body: () => ({ email: 'matrix-invitee@example.com', role: 'viewer' }),
  }),
  [`GET ${organization}/invitations`]: requires('members.invite'),
  [`DELETE ${organization}/invitations/{invitation_id}`]: requires('members.invite'),
  [`POST ${organization}/teams`]: requires('teams.create', { body: () => ({ name: 'Matrix team' }) }),
  [`GET ${organization}/teams`]: requires('teams.read'),
  [`GET ${organization}/teams/{team_id}`]: requires('teams.read'),
  [`PATCH ${organization}/teams/{team_id}`]: requires('teams.update', { body: () => ({ name: 'Renamed team' }) }),
  [`DELETE ${organization}/teams/{team_id}`]: requires('teams.delete'),
  [`GET ${organization}/teams/{team_id}/members`]: requires('teams.read'),
  [`POST ${organization}/teams/{team_id}/members`]: requires('teams.members.manage', {
    body: (world) => ({ user_id: world.roles.viewer.userId }),
  }),
  [`PATCH ${organization}/teams/{team_id}/members/{user_id}`]: requires('teams.members.manage', {
    body: () => ({ role: 'admin' }),
  }),
  [`DELETE ${organization}/teams/{team_id}/members/{user_id}`]: requires('teams.members.manage'),
  [`POST ${organization}/keys`]: requires('keys.create', { body: () => ({ name: 'Matrix key' }) }),
  [`GET ${organization}/keys`]: requires('keys.read.own'),
  // Every role with the `.own` action reaches these; whose key it is decides next (404 for someone else's key the
  // caller may not see, 403 for one they see but may not change).
  [`GET ${organization}/keys/{key_id}`]: requires('keys.read.own'),
  [`PATCH ${organization}/keys/{key_id}`]: requires('keys.update.own', { body: () => ({ name: 'Renamed key' }) }),
  [`DELETE ${organization}/keys/{key_id}`]: requires('keys.revoke.own'),
  [`POST ${organization}/keys/{key_id}/rotate`]: requires('keys.rotate.own'),
  [`GET ${organization}/providers`]: requires('registry.read'),
  [`POST ${organization}/providers`]: requires('registry.manage', {
    body: () => ({ id: 'matrix-new-provider', type: 'openai', api_key: 'sk-matrix-new-provider-key' }),
  }),
  [`GET ${organization}/providers/{provider_id}`]: requires('registry.read'),
  [`PATCH ${organization}/providers/{provider_id}`]: requires('registry.manage', {
    body: () => ({ max_connections: 8 }),
  }),
  [`DELETE ${organization}/providers/{provider_id}`]: requires('registry.manage'),
  [`GET ${organization}/providers/{provider_id}/credentials`]: requires('registry.read'),
  [`POST ${organization}/providers/{provider_id}/credentials`]: requires('registry.manage', {
    body: () => ({ api_key: 'sk-matrix-second-credential' }),
  }),
  [`PATCH ${organization}/providers/{provider_id}/credentials/{credential_id}`]: requires('registry.manage', {
    body: () => ({ weight: 2 }),
  }),
  [`DELETE ${organization}/providers/{provider_id}/credentials/{credential_id}`]: requires('registry.manage'),
  [`GET ${organization}/models`]: requires('registry.read'),
  [`POST ${organization}/models`]: requires('registry.manage', {
    body: () => ({ name: 'matrix-new-model', deployments: [{ provider: 'mock', model: 'mock-gpt' }] }),
  }),
  [`GET ${organization}/models/{model_name}`]: requires('registry.read'),
  [`PATCH ${organization}/models/{model_name}`]: requires('registry.manage', {
    body: () => ({ strategy: 'lowest-cost' }),
  }),
  [`DELETE ${organization}/models/{model_name}`]: requires('registry.manage'),
  'GET /api/v1/providers/{provider_id}': platformRegistry(),
  'PATCH /api/v1/providers/{provider_id}': platformRegistry(() => ({ max_connections: 8 })),
  'DELETE /api/v1/providers/{provider_id}': platformRegistry(),
  'GET /api/v1/providers/{provider_id}/credentials': platformRegistry(),
  'POST /api/v1/providers/{provider_id}/credentials': platformRegistry(() => ({ api_key: 'sk-matrix-platform-key' })),
  'PATCH /api/v1/providers/{provider_id}/credentials/{credential_id}': platformRegistry(() => ({ weight: 2 })),
  'DELETE /api/v1/providers/{provider_id}/credentials/{credential_id}': platformRegistry(),
  'GET /api/v1/models/{model_name}': platformRegistry(),
  'PATCH /api/v1/models/{model_name}': platformRegistry(() => ({ strategy: 'lowest-cost' })),
  'DELETE /api/v1/models/{model_name}': platformRegistry(),
  [`GET ${organization}/limits`]: requires('traffic.read'),
  [`POST ${organization}/limits`]: requires('limits.manage', {
    body: (world) => ({ subject: { type: 'organization', id: world.orgId }, rpm_limit: 10 }),
  }),
  [`GET ${organization}/limits/{limit_id}`]: requires('traffic.read'),
  [`PATCH ${organization}/limits/{limit_id}`]: requires('limits.manage', { body: () => ({ tpm_limit: 5000 }) }),
  [`DELETE ${organization}/limits/{limit_id}`]: requires('limits.manage'),
  [`GET ${organization}/budgets`]: requires('traffic.read'),
  [`POST ${organization}/budgets`]: requires('budgets.manage', {
    body: (world) => ({ subject: { type: 'organization', id: world.orgId }, amount_micros: 1000, period: 'month' }),
  }),
  [`GET ${organization}/budgets/{budget_id}`]: requires('traffic.read'),
  [`PATCH ${organization}/budgets/{budget_id}`]: requires('budgets.manage', {
    body: () => ({ amount_micros: 2000 }),
  }),
  [`DELETE ${organization}/budgets/{budget_id}`]: requires('budgets.manage'),
  [`GET ${organization}/budget-alerts`]: requires('traffic.read'),
  [`GET ${organization}/audit-events`]: requires('audit.read'),
  'GET /api/v1/audit-events': requires('audit.read'),
  'GET /api/v1/sso/{org_id}/login': { kind: 'public' },
  'GET /api/v1/sso/{org_id}/callback': { kind: 'public' },
  'GET /api/v1/invitations/{token}': { kind: 'invitation-token' },
  'POST /api/v1/invitations/{token}/accept': { kind: 'invitation-token' },
  'POST /api/v1/invitations/{token}/decline': { kind: 'invitation-token' },
  'POST /api/v1/users/{user_id}/disable': { kind: 'platform' },
  'POST /api/v1/users/{user_id}/enable': { kind: 'platform' },
};

/** Which resource of the world fills each parameter; an unknown parameter fails its cases with a pointer here. */
const parameterValues: Readonly<Record<string, (world: OrgWorld) => string>> = {
  org_id: (world) => world.orgId,
  team_id: (world) => world.teamId,
  user_id: (world) => world.subject.userId,
  key_id: (world) => world.keyId,
  invitation_id: (world) => world.invitationId,
  provider_id: (world) => world.providerId,
  credential_id: (world) => world.credentialId,
  model_name: (world) => world.modelName,
  limit_id: (world) => world.limitId,
  budget_id: (world) => world.budgetId,
};

const missingOrgId = 'org_matrix_does_not_exist';

/** The route table of a running app, read once: the cases below are generated from it. */
async function readRouteTable(): Promise<{ documented: DocumentedRoute[]; served: string[] }> {
  const testApp = await startTestApp();
  try {
    const document = await readOpenApiDocument(testApp.instance.app);
    return {
      documented: listDocumentedRoutes(document),
      served: listServedRoutes(testApp.instance.app).filter((key) => isManagementPath(key.split(' ')[1] ?? '')),
    };
  } finally {
    await testApp.close();
  }
}

const routeTable = await readRouteTable();
const addressesResource = (route: DocumentedRoute) =>
  route.pathParameters.length > 0 || route.queryIdParameters.length > 0;
const resourceRoutes = routeTable.documented.filter(addressesResource);
const routesOfKind = <Kind extends RouteRule['kind']>(kind: Kind) =>
  resourceRoutes.flatMap((route) => {
    const rule = routeRules[route.key];
    return rule?.kind === kind ? [{ ...route, rule: rule as Extract<RouteRule, { kind: Kind }> }] : [];
  });
const orgRoutes = routesOfKind('org');
const publicRoutes = routesOfKind('public');
const invitationTokenRoutes = routesOfKind('invitation-token');
const platformRoutes = routesOfKind('platform');

const allowedRoles = (action: Action): readonly OrgRole[] => permissions[action].orgRoles;
const deniedRoles = (action: Action): OrgRole[] => orgRoles.filter((role) => !allowedRoles(action).includes(role));

function urlFor(route: DocumentedRoute, world: OrgWorld, orgId = world.orgId): string {
  const valueOf = (name: string): string => {
    if (name === 'org_id') return orgId;
    const value = parameterValues[name];
    if (!value) throw new Error(`${route.key}: no test value for {${name}}; add one to parameterValues`);
    return encodeURIComponent(value(world));
  };
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => valueOf(name));
  const query = route.queryIdParameters.map((name) => `${name}=${valueOf(name)}`).join('&');
  return query === '' ? path : `${path}?${query}`;
}

function methodOf(route: DocumentedRoute): Method {
  const method = route.method;
  if (method === 'GET' || method === 'POST' || method === 'PATCH' || method === 'DELETE') return method;
  throw new Error(`${route.key}: the matrix does not send ${method} yet`);
}

function expectStatus(response: LightMyRequestResponse, status: number, what: string): void {
  if (response.statusCode !== status) throw new Error(`${what} answered ${response.statusCode}: ${response.body}`);
}

/** The problem body without `instance`, which repeats the request path. */
function problemOf(response: LightMyRequestResponse): Record<string, unknown> {
  const { instance: _instance, ...problem } = response.json<Record<string, unknown>>();
  return problem;
}

/**
 * A fresh organization with one resource of each kind, created through the API where the API creates them (so the
 * audit log has events), with one member per role. Names are random so a leak cannot match by coincidence.
 */
async function seedOrganization(testApp: TestApp): Promise<OrgWorld> {
  const tag = randomUUID().slice(0, 8);
  const owner = await createSignedInUser(testApp, { email: `owner-${tag}@example.com` });
  const orgName = `Tenant ${tag}`;
  const orgId = await createOrganization(testApp, owner, orgName);
  const roles = { owner } as Record<OrgRole, SignedInUser>;
  for (const role of orgRoles) {
    if (role === 'owner') continue;
    roles[role] = await createSignedInUser(testApp, { email: `${role}-${tag}@example.com` });
    await addMember(testApp, orgId, roles[role], role);
  }
  const subject = await createSignedInUser(testApp, { email: `subject-${tag}@example.com` });
  await addMember(testApp, orgId, subject, 'member');
  const base = `/api/v1/organizations/${orgId}`;
  const teamName = `Team ${tag}`;
  const team = await callApi(testApp, owner, 'POST', `${base}/teams`, { body: { name: teamName } });
  expectStatus(team, 201, 'creating the team');
  const teamId = team.json<{ id: string }>().id;
  expectStatus(
    await callApi(testApp, owner, 'POST', `${base}/teams/${teamId}/members`, { body: { user_id: subject.userId } }),
    201,
    'adding the team member',
  );
  const key = await callApi(testApp, owner, 'POST', `${base}/keys`, { body: { name: `Key ${tag}` } });
  expectStatus(key, 201, 'creating the key');
  const { id: keyId, prefix } = key.json<{ id: string; prefix: string }>();
  const invitationEmail = `invitee-${tag}@example.com`;
  const invitation = await callApi(testApp, owner, 'POST', `${base}/invitations`, {
    body: { email: invitationEmail, role: 'viewer' },
  });
  expectStatus(invitation, 201, 'creating the invitation');
  // Its own registry: a provider with a key, and a model deployed on the file's provider (so either can be deleted).
  const providerId = `prov-${tag}`;
  const modelName = `Model ${tag}`;
  expectStatus(
    await callApi(testApp, owner, 'POST', `${base}/providers`, {
      body: { id: providerId, type: 'openai-compatible', base_url: 'https://1.1.1.1/v1', api_key: `sk-${tag}-key` },
    }),
    201,
    'creating the provider',
  );
  expectStatus(
    await callApi(testApp, owner, 'POST', `${base}/models`, {
      body: { name: modelName, deployments: [{ provider: 'mock', model: 'mock-gpt' }] },
    }),
    201,
    'creating the model',
  );
  const limit = await callApi(testApp, owner, 'POST', `${base}/limits`, {
    body: { subject: { type: 'team', id: teamId }, rpm_limit: 60 },
  });
  expectStatus(limit, 201, 'creating the limit');
  const budget = await callApi(testApp, owner, 'POST', `${base}/budgets`, {
    body: { subject: { type: 'team', id: teamId }, amount_micros: 5_000_000, period: 'day' },
  });
  expectStatus(budget, 201, 'creating the budget');
  return {
    orgId,
    roles,
    subject,
    teamId,
    limitId: limit.json<{ id: string }>().id,
    budgetId: budget.json<{ id: string }>().id,
    keyId,
    invitationId: invitation.json<{ id: string }>().id,
    providerId,
    credentialId: 'default',
    modelName,
    secrets: [
      `sk-${tag}-key`,
      orgName,
      teamName,
      `Key ${tag}`,
      prefix,
      invitationEmail,
      subject.email,
      ...orgRoles.map((role) => roles[role].email),
    ],
  };
}

/** Everything stored about one organization, to show that a refused call wrote nothing. */
async function snapshotOrganization(testApp: TestApp, orgId: string): Promise<unknown[]> {
  const db = testApp.instance.services.database.db;
  return Promise.all([
    db.selectFrom('organizations').selectAll().where('id', '=', orgId).execute(),
    db.selectFrom('org_members').selectAll().where('org_id', '=', orgId).orderBy('user_id').execute(),
    db.selectFrom('teams').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db
      .selectFrom('team_members')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('team_id')
      .orderBy('user_id')
      .execute(),
    db.selectFrom('invitations').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db.selectFrom('api_keys').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db.selectFrom('providers').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db.selectFrom('models').selectAll().where('org_id', '=', orgId).orderBy('name').execute(),
    db
      .selectFrom('provider_credentials')
      .innerJoin('providers', 'providers.pk', 'provider_credentials.provider_pk')
      .selectAll('provider_credentials')
      .where('providers.org_id', '=', orgId)
      .orderBy('provider_credentials.pk')
      .execute(),
    db.selectFrom('traffic_limits').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
    db.selectFrom('budgets').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
  ]);
}

describe('the route table behind the matrix', () => {
  it('documents every /api/v1 and /api/v2 route the router serves, so none escapes the matrix', () => {
    const documented = new Set(routeTable.documented.map((route) => route.key));
    expect(routeTable.served.filter((key) => !documented.has(key))).toEqual([]);
    expect(routeTable.documented.length).toBe(routeTable.served.length);
  });

  it('has a rule for every route that addresses a resource, and none for routes that are gone', () => {
    const missing = resourceRoutes.filter((route) => routeRules[route.key] === undefined).map((route) => route.key);
    expect(missing, 'add these routes to routeRules in cross-tenant-matrix.test.ts').toEqual([]);
    const known = new Set(resourceRoutes.map((route) => route.key));
    expect(Object.keys(routeRules).filter((key) => !known.has(key))).toEqual([]);
  });

  it('gives a permission action only to routes that name an organization', () => {
    const withoutOrg = orgRoutes.filter(
      (route) => !route.pathParameters.includes('org_id') && !route.queryIdParameters.includes('org_id'),
    );
    expect(withoutOrg.map((route) => route.key)).toEqual([]);
    expect(orgRoutes.length).toBeGreaterThan(0);
  });

  it('calls public exactly the routes documented without sign-in', () => {
    const signInFree = (route: DocumentedRoute) => route.operation.security?.length === 0;
    expect(publicRoutes.filter((route) => !signInFree(route)).map((route) => route.key)).toEqual([]);
    expect(orgRoutes.filter(signInFree).map((route) => route.key)).toEqual([]);
  });
});

describe.each(testEngines)('cross-tenant and role matrix on %s', (engine) => {
  let testApp: TestApp;
  let worldA: OrgWorld;
  /** The owner of another organization, with resources of its own. */
  let outsider: SignedInUser;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    worldA = await seedOrganization(testApp);
    outsider = (await seedOrganization(testApp)).roles.owner;
  });
  afterAll(async () => {
    await testApp.close();
  });

  const call = (user: SignedInUser | undefined, route: DocumentedRoute, url: string, body?: unknown) =>
    callApi(testApp, user, methodOf(route), url, body === undefined ? {} : { body });

  for (const route of orgRoutes) {
    describe(route.key, () => {
      const { action, body, ownerStatus } = route.rule;

      it('answers an owner of another organization 404, as for one that does not exist, leaking nothing', async () => {
        const before = await snapshotOrganization(testApp, worldA.orgId);
        const response = await call(outsider, route, urlFor(route, worldA), body?.(worldA));
        expect(response.statusCode, response.body).toBe(404);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        const nowhere = await call(outsider, route, urlFor(route, worldA, missingOrgId), body?.(worldA));
        expect(problemOf(response)).toEqual(problemOf(nowhere));
        for (const secret of worldA.secrets) expect(response.body).not.toContain(secret);
        expect(await snapshotOrganization(testApp, worldA.orgId)).toEqual(before);
      });

      const denied = deniedRoles(action);
      // An action every role has (reading the organization, its settings, members and teams; leaving) has no 403.
      if (denied.length > 0) {
        it(`answers ${denied.join(', ')} 403 (${action}), writing nothing`, async () => {
          const before = await snapshotOrganization(testApp, worldA.orgId);
          for (const role of denied) {
            const response = await call(worldA.roles[role], route, urlFor(route, worldA), body?.(worldA));
            expect(response.statusCode, `${role}: ${response.body}`).toBe(403);
            expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
            expect(problemCode(response)).toBe('forbidden');
          }
          expect(await snapshotOrganization(testApp, worldA.orgId)).toEqual(before);
        });
      }

      it(`lets ${allowedRoles(action).join(', ')} past the permission check (each in a fresh organization)`, async () => {
        for (const role of allowedRoles(action)) {
          // A fresh organization per caller: deleting, transferring or leaving must not change the next case.
          const world = await seedOrganization(testApp);
          const response = await call(world.roles[role], route, urlFor(route, world), body?.(world));
          if (role === 'owner') {
            if (ownerStatus === undefined) expect(response.statusCode, response.body).toBeOneOf([200, 201, 204]);
            else expect(response.statusCode, response.body).toBe(ownerStatus);
          } else {
            expect(response.statusCode, `${role}: ${response.body}`).not.toBeOneOf([401, 403]);
          }
        }
      });
    });
  }

  for (const route of publicRoutes) {
    it(`${route.key} (public) answers the same whoever asks, leaking nothing`, async () => {
      const url = urlFor(route, worldA);
      const anonymous = await call(undefined, route, url);
      for (const caller of [outsider, worldA.roles.owner]) {
        const response = await call(caller, route, url);
        expect(response.statusCode).toBe(anonymous.statusCode);
        expect(response.body).toBe(anonymous.body);
      }
      for (const secret of worldA.secrets) expect(anonymous.body).not.toContain(secret);
    });
  }

  for (const route of platformRoutes) {
    it(`${route.key} (platform) answers every organization role and an outsider 403, writing nothing`, async () => {
      const users = testApp.instance.services.users;
      const before = await users.findById(worldA.subject.userId);
      const organizationBefore = await snapshotOrganization(testApp, worldA.orgId);
      const body = route.rule.body?.(worldA);
      for (const caller of [...orgRoles.map((role) => worldA.roles[role]), outsider]) {
        const response = await call(caller, route, urlFor(route, worldA), body);
        expect(response.statusCode, `${caller.email}: ${response.body}`).toBe(403);
        expect(problemCode(response)).toBe('forbidden');
      }
      expect(await users.findById(worldA.subject.userId)).toEqual(before);
      expect(await snapshotOrganization(testApp, worldA.orgId)).toEqual(organizationBefore);
      const admin = await createSignedInUser(testApp, { platformRole: 'admin' });
      const allowed = await call(admin, route, urlFor(route, worldA), body);
      expect(allowed.statusCode, allowed.body).toBe(route.rule.adminStatus ?? 200);
      expect(await snapshotOrganization(testApp, worldA.orgId)).toEqual(organizationBefore);
      // Leave the subject as it was for the other cases.
      await callApi(testApp, admin, 'POST', `/api/v1/users/${worldA.subject.userId}/enable`);
    });
  }

  describe('routes addressed by an invitation token', () => {
    it('are exactly the lookup, accept and decline routes checked here', () => {
      expect(invitationTokenRoutes.map((route) => route.key)).toEqual([
        'GET /api/v1/invitations/{token}',
        'POST /api/v1/invitations/{token}/accept',
        'POST /api/v1/invitations/{token}/decline',
      ]);
    });

    it('let nobody but the invitee accept or decline, not even a member of the organization', async () => {
      const invitee = await createSignedInUser(testApp);
      const created = await callApi(
        testApp,
        worldA.roles.owner,
        'POST',
        `/api/v1/organizations/${worldA.orgId}/invitations`,
        {
          body: { email: invitee.email, role: 'member' },
        },
      );
      expectStatus(created, 201, 'creating the invitation');
      const { token } = created.json<{ token: string }>();
      const urlOf = (route: DocumentedRoute) => route.path.replace('{token}', encodeURIComponent(token));
      const writes = invitationTokenRoutes.filter((route) => route.method !== 'GET');
      const before = await snapshotOrganization(testApp, worldA.orgId);
      for (const caller of [outsider, worldA.roles.viewer]) {
        for (const route of writes) {
          const response = await call(caller, route, urlOf(route));
          expect(response.statusCode, `${route.key}: ${response.body}`).toBe(403);
          expect(problemCode(response)).toBe('forbidden');
        }
      }
      expect(await snapshotOrganization(testApp, worldA.orgId)).toEqual(before);
      const lookup = invitationTokenRoutes.find((route) => route.method === 'GET');
      if (!lookup) throw new Error('no invitation lookup route');
      const pending = await call(undefined, lookup, urlOf(lookup));
      expect(pending.json()).toMatchObject({ email: invitee.email, status: 'pending' });
      const organizationUrl = `/api/v1/organizations/${worldA.orgId}`;
      expect((await callApi(testApp, outsider, 'GET', organizationUrl)).statusCode).toBe(404);

      const accept = writes.find((route) => route.key.endsWith('/accept'));
      if (!accept) throw new Error('no invitation accept route');
      const accepted = await call(invitee, accept, urlOf(accept));
      expect(accepted.statusCode, accepted.body).toBe(200);
      expect((await callApi(testApp, invitee, 'GET', organizationUrl)).statusCode).toBe(200);
    });

    it('answer an unknown token 404 as problem+json', async () => {
      for (const route of invitationTokenRoutes) {
        const url = route.path.replace('{token}', 'not-a-real-token');
        const response = await call(outsider, route, url);
        expect(response.statusCode, `${route.key}: ${response.body}`).toBe(404);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });
  });
});
