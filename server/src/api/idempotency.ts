import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors/app-error.ts';
import { redactSecrets } from '../modules/audit/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Creating POSTs honour an `Idempotency-Key` header: a retry replays the first response. */
    idempotent?: boolean;
    /** Top-level response fields never stored for replay (secrets shown once): a replay comes back without them. */
    idempotencyOmits?: readonly string[];
  }
  interface FastifyRequest {
    idempotencyRecord?: { scope: string; key: string };
  }
}

export const idempotencyHeader = 'idempotency-key';
const maxKeyLength = 255;

/**
 * Idempotency keys for creating POSTs (after the IETF draft): the first request with a key is recorded with its
 * response; a retry with the same key and body gets the same response replayed, a different body is refused (422),
 * and a retry while the first is still running gets 409. Server errors are not kept, so they can be retried.
 */
export function registerIdempotency(app: FastifyInstance, db: Database): void {
  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.idempotent) return;
    const key = request.headers[idempotencyHeader];
    if (key === undefined) return;
    if (typeof key !== 'string' || key.length === 0 || key.length > maxKeyLength) {
      throw new AppError('invalid_request', `${idempotencyHeader} must be 1 to ${maxKeyLength} characters`, {
        param: idempotencyHeader,
      });
    }
    // Public routes (registration) have no actor; their callers are told apart by address.
    const actor = request.actor as typeof request.actor | null;
    const caller = actor ? (actor.keyId ?? actor.userId) : `anonymous:${request.ip}`;
    const scope = `${caller}:${request.method}:${request.routeOptions.url ?? request.url}:${JSON.stringify(request.params)}`;
    const requestHash = createHash('sha256')
      // Without secrets: an unsalted sha256 of a body holding a password would be a cheap way to crack it.
      .update(JSON.stringify(redactSecrets(request.body ?? null)))
      .digest('base64url');
    const existing = await db
      .selectFrom('idempotency_records')
      .selectAll()
      .where('scope', '=', scope)
      .where('key', '=', key)
      .executeTakeFirst();
    if (existing) return replay(reply, existing, requestHash);
    try {
      await db
        .insertInto('idempotency_records')
        .values({ scope, key, request_hash: requestHash, status: null, response: null, created_at: Date.now() })
        .execute();
    } catch {
      throw new AppError('idempotency_conflict', 'a request with this idempotency key is still being processed');
    }
    request.idempotencyRecord = { scope, key };
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = request.idempotencyRecord;
    if (!record) return payload;
    if (reply.statusCode >= 500) {
      await db
        .deleteFrom('idempotency_records')
        .where('scope', '=', record.scope)
        .where('key', '=', record.key)
        .execute();
    } else {
      await db
        .updateTable('idempotency_records')
        .set({
          status: reply.statusCode,
          response:
            typeof payload === 'string'
              ? withoutFields(payload, request.routeOptions.config.idempotencyOmits ?? [])
              : null,
        })
        .where('scope', '=', record.scope)
        .where('key', '=', record.key)
        .execute();
    }
    return payload;
  });
}

function replay(
  reply: FastifyReply,
  existing: { request_hash: string; status: number | null; response: string | null },
  requestHash: string,
): FastifyReply {
  if (existing.request_hash !== requestHash) {
    throw new AppError('unprocessable', 'this idempotency key was already used with a different request body', {
      param: idempotencyHeader,
    });
  }
  if (existing.status === null) {
    throw new AppError('idempotency_conflict', 'a request with this idempotency key is still being processed');
  }
  return reply
    .code(existing.status)
    .header('idempotent-replayed', 'true')
    .type('application/json')
    .send(existing.response ?? '');
}

function withoutFields(payload: string, fields: readonly string[]): string | null {
  if (fields.length === 0) return payload;
  try {
    const body: unknown = JSON.parse(payload);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return payload;
    return JSON.stringify(Object.fromEntries(Object.entries(body).filter(([field]) => !fields.includes(field))));
  } catch {
    // Not JSON: store nothing rather than risk keeping what was meant to be shown once.
    return null;
  }
}
