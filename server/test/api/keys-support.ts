import type { LightMyRequestResponse } from 'fastify';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import type { TestApp } from '../support/test-app.ts';

/**
 * Two organizations seeded straight into the database. In Acme: an owner, an admin, two members, a billing and a
 * viewer member, and a team whose admin is an org member. Globex has its own owner and team.
 */
export interface KeysWorld {
  readonly orgId: string;
  readonly teamId: string;
  readonly owner: SignedInUser;
  readonly admin: SignedInUser;
  readonly member: SignedInUser;
  readonly otherMember: SignedInUser;
  readonly billing: SignedInUser;
  readonly viewer: SignedInUser;
  /** An org `member` who is admin of `teamId`. */
  readonly teamAdmin: SignedInUser;
  readonly otherOrgId: string;
  readonly otherTeamId: string;
  /** Owner of the other organization and no member of Acme. */
  readonly outsider: SignedInUser;
}

export async function createKeysWorld(testApp: TestApp): Promise<KeysWorld> {
  const owner = await createSignedInUser(testApp);
  const orgId = await createOrganization(testApp, owner, 'Acme');
  const members = {
    admin: await createSignedInUser(testApp),
    member: await createSignedInUser(testApp),
    otherMember: await createSignedInUser(testApp),
    billing: await createSignedInUser(testApp),
    viewer: await createSignedInUser(testApp),
    teamAdmin: await createSignedInUser(testApp),
  };
  await addMember(testApp, orgId, members.admin, 'admin');
  await addMember(testApp, orgId, members.member, 'member');
  await addMember(testApp, orgId, members.otherMember, 'member');
  await addMember(testApp, orgId, members.billing, 'billing');
  await addMember(testApp, orgId, members.viewer, 'viewer');
  await addMember(testApp, orgId, members.teamAdmin, 'member');
  const teamId = await createTeam(testApp, orgId, 'Research');
  await addTeamMember(testApp, orgId, teamId, members.teamAdmin, 'admin');
  await addTeamMember(testApp, orgId, teamId, members.member, 'member');

  const outsider = await createSignedInUser(testApp);
  const otherOrgId = await createOrganization(testApp, outsider, 'Globex');
  const otherTeamId = await createTeam(testApp, otherOrgId, 'Research');
  return { orgId, teamId, owner, ...members, otherOrgId, otherTeamId, outsider };
}

async function createTeam(testApp: TestApp, orgId: string, name: string): Promise<string> {
  const id = `team_${Math.random().toString(36).slice(2, 12)}`;
  const now = Date.now();
  await testApp.instance.services.database.db
    .insertInto('teams')
    .values({ id, org_id: orgId, name, created_at: now, updated_at: now })
    .execute();
  return id;
}

async function addTeamMember(
  testApp: TestApp,
  orgId: string,
  teamId: string,
  user: SignedInUser,
  role: 'admin' | 'member',
): Promise<void> {
  await testApp.instance.services.database.db
    .insertInto('team_members')
    .values({ team_id: teamId, org_id: orgId, user_id: user.userId, role, created_at: Date.now() })
    .execute();
}

/** Who calls: a signed-in user, or anything else with headers (e.g. an API key as bearer, see `asKey`). */
export type Caller = Pick<SignedInUser, 'headers'>;

export const asKey = (secret: string): Caller => ({ headers: { authorization: `Bearer ${secret}` } });

export interface KeyCallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

/** One management API call; JSON content type only when there is a body. */
export function callKeysApi(
  testApp: TestApp,
  caller: Caller,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  options: KeyCallOptions = {},
): Promise<LightMyRequestResponse> {
  const authorization = caller.headers.authorization;
  return testApp.instance.app.inject({
    method,
    url,
    headers: {
      ...(authorization === undefined ? {} : { authorization }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
  });
}

/** The shape every key response has (never a hash; `secret` only on creation and rotation). */
export interface KeyBody {
  id: string;
  name: string;
  org_id: string;
  team_id: string | null;
  user_id: string;
  prefix: string;
  status: 'active' | 'revoked' | 'expired';
  scopes: string[];
  allowed_models: string[] | null;
  ip_allowlist: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  budget_micros: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  rotated_from: string | null;
  created_at: string;
  updated_at: string | null;
  secret?: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  param?: string;
}

export const keysUrl = (orgId: string, keyId?: string, suffix = '') =>
  `/api/v1/organizations/${orgId}/keys${keyId === undefined ? '' : `/${keyId}`}${suffix}`;

/** Creates a key through the API as `caller`; fails the test unless it answers 201. */
export async function createKeyAs(
  testApp: TestApp,
  caller: Caller,
  orgId: string,
  body: Record<string, unknown> = {},
): Promise<KeyBody & { secret: string }> {
  const response = await callKeysApi(testApp, caller, 'POST', keysUrl(orgId), { body: { name: 'key', ...body } });
  if (response.statusCode !== 201) throw new Error(`create key answered ${response.statusCode}: ${response.body}`);
  return response.json<KeyBody & { secret: string }>();
}

/** Audit rows about one key, oldest first, with their snapshots parsed. */
export async function keyAuditEvents(testApp: TestApp, keyId: string) {
  const rows = await testApp.instance.services.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('target_id', '=', keyId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    ...row,
    before: row.before === null ? null : (JSON.parse(row.before) as Record<string, unknown>),
    after: row.after === null ? null : (JSON.parse(row.after) as Record<string, unknown>),
  }));
}

/** Polls until `condition` holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
