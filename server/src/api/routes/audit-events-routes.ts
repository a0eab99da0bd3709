import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import { AuditLog, type AuditEventRow } from '../../modules/audit/index.ts';
import type { ApiContext, ApiRoutes } from '../api-context.ts';
import { toPage } from '../pagination.ts';
import {
  listQueryFields,
  OrgParamsSchema,
  pageOf,
  problemResponses,
  readListWindow,
  type OrgParams,
} from './tenancy-schemas.ts';

const AuditEventSchema = Type.Object({
  id: Type.String(),
  org_id: Type.Union([Type.String(), Type.Null()]),
  actor_user_id: Type.Union([Type.String(), Type.Null()]),
  actor_key_id: Type.Union([Type.String(), Type.Null()]),
  action: Type.String({ description: 'Dotted, e.g. member.role_change' }),
  target_type: Type.String(),
  target_id: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown({ description: 'Snapshot before the change (secrets removed), or null' }),
  after: Type.Unknown({ description: 'Snapshot after the change (secrets removed), or null' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  request_id: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.Integer({ description: 'Epoch milliseconds' }),
});

const filterFields = {
  action: Type.Optional(Type.String({ maxLength: 100 })),
  actor_user_id: Type.Optional(Type.String({ maxLength: 128 })),
  target_type: Type.Optional(Type.String({ maxLength: 100 })),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 date-time, inclusive' })),
  until: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 date-time, exclusive' })),
};
const AuditQuerySchema = Type.Object({ ...listQueryFields, ...filterFields });
type AuditQuery = Type.Static<typeof AuditQuerySchema>;
const AuditByOrgQuerySchema = Type.Object({
  org_id: Type.String({ minLength: 1, maxLength: 128 }),
  ...listQueryFields,
  ...filterFields,
});
type AuditByOrgQuery = Type.Static<typeof AuditByOrgQuerySchema>;

function presentAuditEvent(event: AuditEventRow): Type.Static<typeof AuditEventSchema> {
  return {
    id: event.id,
    org_id: event.org_id,
    actor_user_id: event.actor_user_id,
    actor_key_id: event.actor_key_id,
    action: event.action,
    target_type: event.target_type,
    target_id: event.target_id,
    before: event.before === null ? null : (JSON.parse(event.before) as unknown),
    after: event.after === null ? null : (JSON.parse(event.after) as unknown),
    ip: event.ip,
    request_id: event.request_id,
    created_at: event.created_at,
  };
}

function readTime(value: string | undefined, param: string): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new AppError('invalid_request', `${param} must be an ISO 8601 date-time`, { param });
  }
  return time;
}

async function listEvents(
  context: ApiContext,
  auditLog: AuditLog,
  request: FastifyRequest,
  orgId: string,
  query: AuditQuery,
) {
  const scope = await context.authorizer.authorize(request.actor, orgId, 'audit.read');
  const { page, window } = readListWindow({ ...query, sort: undefined }, ['created_at'], {
    field: 'created_at',
    direction: 'desc',
  });
  const rows = await auditLog.list(
    scope,
    {
      action: query.action,
      actorUserId: query.actor_user_id,
      targetType: query.target_type,
      since: readTime(query.since, 'since'),
      until: readTime(query.until, 'until'),
    },
    window,
  );
  return toPage(rows, page, (row) => [row.created_at, row.id], presentAuditEvent);
}

/** The audit log of an organization, newest first (owners and admins). */
export const registerAuditEventRoutes: ApiRoutes = (api, context) => {
  const auditLog = new AuditLog(context.db);
  const schema = {
    tags: ['audit'],
    response: { 200: pageOf(AuditEventSchema), ...problemResponses },
  };

  api.get<{ Params: OrgParams; Querystring: AuditQuery }>(
    '/organizations/:org_id/audit-events',
    {
      schema: {
        ...schema,
        summary: "An organization's audit events, newest first",
        params: OrgParamsSchema,
        querystring: AuditQuerySchema,
      },
    },
    (request) => listEvents(context, auditLog, request, request.params.org_id, request.query),
  );

  api.get<{ Querystring: AuditByOrgQuery }>(
    '/audit-events',
    {
      schema: {
        ...schema,
        summary: "An organization's audit events, newest first (org_id in the query)",
        querystring: AuditByOrgQuerySchema,
      },
    },
    (request) => listEvents(context, auditLog, request, request.query.org_id, request.query),
  );
};
