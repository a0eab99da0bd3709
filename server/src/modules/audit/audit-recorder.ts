import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../../db/schema.ts';
import { AuditClock } from './audit-clock.ts';
import { AuditRepository } from './audit-repository.ts';
import type { Actor } from '../shared/index.ts';

export interface AuditEventInput {
  /** null for platform-level events (a user signing up, a platform setting). */
  orgId: string | null;
  actor: Actor | null;
  /** Verb-first dotted name: `team.create`, `member.role_change`, `key.revoke`. */
  action: string;
  targetType: string;
  targetId: string | null;
  before?: unknown;
  after?: unknown;
}

/** Field names never written into audit snapshots, whatever the object. */
const secretField = /secret|password|token|hash|sealed|api_key$/i;

/** One per process: ids and times of events recorded here never go backwards. */
const auditClock = new AuditClock();

/**
 * The one hook every mutation calls. It takes the mutation's own transaction, so an event exists exactly when its
 * change was committed. The table is append-only: nothing in the code updates or deletes audit rows.
 */
export async function recordAuditEvent(
  executor: Kysely<DatabaseSchema>,
  event: AuditEventInput,
  now = Date.now(),
): Promise<void> {
  const stamp = auditClock.next(now);
  await new AuditRepository(executor).insert({
    id: stamp.id,
    org_id: event.orgId,
    actor_user_id: event.actor?.userId ?? null,
    actor_key_id: event.actor?.keyId ?? null,
    action: event.action,
    target_type: event.targetType,
    target_id: event.targetId,
    before: event.before === undefined ? null : JSON.stringify(auditSnapshot(event.before)),
    after: event.after === undefined ? null : JSON.stringify(auditSnapshot(event.after)),
    ip: event.actor?.ip ?? null,
    request_id: event.actor?.requestId ?? null,
    created_at: stamp.at,
  });
}

/**
 * A snapshot as stored: field names in the API's snake_case (services may hand over their camelCase objects, such as a
 * key summary) and secrets redacted.
 */
export function auditSnapshot(value: unknown): unknown {
  return redactSecrets(toSnakeCaseFields(value));
}

/** `allowedModels` → `allowed_models`; names that are not camelCase identifiers (user data, headers) stay as they are. */
function toSnakeCaseFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnakeCaseFields);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([field, child]) => [
        /^[a-z][a-zA-Z0-9]*$/.test(field) ? field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`) : field,
        toSnakeCaseFields(child),
      ]),
    );
  }
  return value;
}

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([field, child]) => [
        field,
        secretField.test(field) ? '[redacted]' : redactSecrets(child),
      ]),
    );
  }
  return value;
}
