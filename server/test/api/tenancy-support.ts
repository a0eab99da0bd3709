import type { LightMyRequestResponse } from 'fastify';
import type { SignedInUser } from '../support/api-users.ts';
import type { TestApp } from '../support/test-app.ts';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

/** A management API call as `user` (or anonymous); JSON content type only when there is a body. */
export function callApi(
  testApp: TestApp,
  user: SignedInUser | undefined,
  method: Method,
  url: string,
  options: CallOptions = {},
): Promise<LightMyRequestResponse> {
  return testApp.instance.app.inject({
    method,
    url,
    headers: {
      ...(user ? { authorization: user.headers.authorization ?? '' } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
  });
}

/** The problem `code` of an error answer. */
export function problemCode(response: LightMyRequestResponse): string {
  return response.json<{ code: string }>().code;
}

export interface StoredAuditEvent {
  action: string;
  actor_user_id: string | null;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  request_id: string | null;
}

/** Audit rows of one organization straight from the table, oldest first. */
export async function storedAuditEvents(testApp: TestApp, orgId: string): Promise<StoredAuditEvent[]> {
  const rows = await testApp.instance.services.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    action: row.action,
    actor_user_id: row.actor_user_id,
    target_type: row.target_type,
    target_id: row.target_id,
    before: row.before === null ? null : (JSON.parse(row.before) as unknown),
    after: row.after === null ? null : (JSON.parse(row.after) as unknown),
    ip: row.ip,
    request_id: row.request_id,
  }));
}

/** The latest event with `action` (audit ids are monotonic, so "latest" is the last one recorded). */
export async function lastAuditEvent(
  testApp: TestApp,
  orgId: string,
  action: string,
): Promise<StoredAuditEvent | undefined> {
  return (await storedAuditEvents(testApp, orgId)).filter((event) => event.action === action).at(-1);
}

export async function countRows(
  testApp: TestApp,
  table: 'org_members' | 'team_members' | 'teams' | 'invitations' | 'audit_events' | 'organizations',
): Promise<number> {
  const row = await testApp.instance.services.database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
