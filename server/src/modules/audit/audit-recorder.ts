import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../../db/schema.ts';
import { newTimeOrderedId } from '../../lib/ids.ts';
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

/**
 * The one hook every mutation calls. It takes the mutation's own transaction, so an event exists exactly when its
 * change was committed. The table is append-only: nothing in the code updates or deletes audit rows.
 */
export async function recordAuditEvent(
  executor: Kysely<DatabaseSchema>,
  event: AuditEventInput,
  now = Date.now(),
): Promise<void> {
  await executor
    .insertInto('audit_events')
    .values({
      id: newTimeOrderedId(now),
      org_id: event.orgId,
      actor_user_id: event.actor?.userId ?? null,
      actor_key_id: event.actor?.keyId ?? null,
      action: event.action,
      target_type: event.targetType,
      target_id: event.targetId,
      before: event.before === undefined ? null : JSON.stringify(redactSecrets(event.before)),
      after: event.after === undefined ? null : JSON.stringify(redactSecrets(event.after)),
      ip: event.actor?.ip ?? null,
      request_id: event.actor?.requestId ?? null,
      created_at: now,
    })
    .execute();
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
