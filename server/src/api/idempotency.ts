import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { AppError } from '../errors/app-error.ts';
import { redactSecrets } from '../modules/audit/index.ts';
import { IdempotencyRepository, type IdempotencyRecord } from '../modules/idempotency/index.ts';
import type { Actor, OrgScope } from '../modules/shared/index.ts';
import type { Authorizer } from '../modules/tenancy/index.ts';
import { problemContentType } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Creating POSTs honour an `Idempotency-Key` header: a retry replays the first response. */
    idempotent?: boolean;
    /** Top-level response fields never stored for replay (secrets shown once): a replay comes back without them. */
    idempotencyOmits?: readonly string[];
  }
  interface FastifyRequest {
    idempotencyRecord?: { scope: string; key: string; claimedAt: number };
  }
}

const idempotencyHeader = 'idempotency-key';
const maxKeyLength = 255;

const defaultIdempotencyTtlSeconds = 24 * 60 * 60;
/** A pending record older than this belongs to a request that died (a crash, a lost connection): taken over. */
const defaultIdempotencyLeaseSeconds = 60;
const sweepIntervalMs = 10 * 60 * 1000;

export interface IdempotencyOptions {
  readonly db: Database;
  /** The authorizer the routes use, wrapped by `replayableAuthorizer`, so replays re-run the same checks. */
  readonly authorizer: Authorizer;
  /** How long a finished record answers retries (AIHUB_IDEMPOTENCY_TTL_SECONDS). */
  readonly ttlSeconds?: number;
  readonly leaseSeconds?: number;
  readonly now?: () => number;
}

/**
 * Idempotency keys for creating POSTs (after the IETF draft): the first request with a key is recorded with its
 * response; a retry with the same key and body gets the same response replayed, a different body is refused (422),
 * and a retry while the first is still running gets 409. Server errors are not kept, so they can be retried.
 *
 * - A replay re-runs the permission checks the first request passed, as the caller is now: a member demoted since
 *   gets 403, a removed one 404 — never the stored answer.
 * - Secrets never enter the store: the stored body drops the route's `idempotencyOmits`, every field whose name
 *   says secret, password, token or credential, and every string that contains one of those values (a link carrying
 *   a token). A replay answers with that redacted body; the secret was shown once, to the first response.
 * - Records expire after `ttlSeconds` (a later request with the key runs afresh; old rows are swept), and a record
 *   left pending longer than the lease is taken over, so a crash never leaves a key answering 409.
 * - Only a request really in flight answers 409; a storage failure answers 503 `database_unavailable`.
 */
export function registerIdempotency(app: FastifyInstance, options: IdempotencyOptions): void {
  const records = new IdempotencyRepository(options.db);
  const now = options.now ?? Date.now;
  const ttlMs = (options.ttlSeconds ?? defaultIdempotencyTtlSeconds) * 1000;
  const leaseMs = (options.leaseSeconds ?? defaultIdempotencyLeaseSeconds) * 1000;
  let nextSweepAt = 0;

  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.idempotent) return;
    const key = request.headers[idempotencyHeader];
    if (key === undefined) return;
    if (typeof key !== 'string' || key.length === 0 || key.length > maxKeyLength) {
      throw new AppError('invalid_request', `${idempotencyHeader} must be 1 to ${maxKeyLength} characters`, {
        param: idempotencyHeader,
      });
    }
    const actor = actorOf(request);
    // Public routes (registration) have no actor; their callers are told apart by address.
    const caller = actor ? (actor.keyId ?? actor.userId) : `anonymous:${request.ip}`;
    const scope = `${caller}:${request.method}:${request.routeOptions.url ?? request.url}:${JSON.stringify(request.params)}`;
    const requestHash = createHash('sha256')
      // Without secrets: an unsalted sha256 of a body holding a password would be a cheap way to crack it.
      .update(JSON.stringify(redactSecrets(request.body ?? null)))
      .digest('base64url');
    const claim = { scope, key, requestHash, now: now() };

    const existing = await storage(async () => {
      const result = await records.claim(claim);
      if (result.claimed) return undefined;
      const stale =
        isExpired(result.existing, claim.now) ||
        isAbandoned(result.existing, claim.now) ||
        // Kept before checks were noted: it cannot be re-authorized, so it is not replayed.
        (actor !== undefined && result.existing.status !== null && result.existing.authorizations === null);
      if (stale && (await records.takeOver(result.existing, claim))) return undefined;
      return result.existing;
    });
    if (existing) return replay(request, reply, existing, requestHash, options.authorizer);

    request.idempotencyRecord = { scope, key, claimedAt: claim.now };
    if (actor) recordedChecks.set(actor, []);
    if (claim.now >= nextSweepAt) {
      nextSweepAt = claim.now + sweepIntervalMs;
      await records.deleteCreatedBefore(claim.now - ttlMs).catch((error: unknown) => {
        request.log.warn({ err: error }, 'could not sweep expired idempotency records');
      });
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = request.idempotencyRecord;
    if (!record) return payload;
    const actor = actorOf(request);
    const checks = actor ? (recordedChecks.get(actor) ?? []) : undefined;
    try {
      if (reply.statusCode >= 500) {
        await records.release(record);
      } else {
        await records.complete(record, {
          status: reply.statusCode,
          response:
            typeof payload === 'string'
              ? storableResponse(payload, request.routeOptions.config.idempotencyOmits ?? [])
              : null,
          authorizations: checks === undefined ? null : JSON.stringify(checks),
        });
      }
    } catch (error) {
      // The response is already decided and the change made; failing it now would invite a duplicate retry. The
      // record stays pending and is taken over after its lease.
      request.log.error({ err: error }, 'could not store the idempotency record');
    }
    return payload;
  });

  function isExpired(record: IdempotencyRecord, at: number): boolean {
    return record.created_at <= at - ttlMs;
  }

  function isAbandoned(record: IdempotencyRecord, at: number): boolean {
    return record.status === null && record.created_at <= at - leaseMs;
  }
}

function actorOf(request: FastifyRequest): Actor | undefined {
  // Public routes never resolve an actor; the decorator's placeholder is null there.
  return request.actor ?? undefined;
}

async function storage<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('database_unavailable', 'the idempotency store is unavailable; retry the request later', {
      isRetryable: true,
      cause: error,
    });
  }
}

async function replay(
  request: FastifyRequest,
  reply: FastifyReply,
  existing: IdempotencyRecord,
  requestHash: string,
  authorizer: Authorizer,
): Promise<FastifyReply> {
  if (existing.request_hash !== requestHash) {
    throw new AppError('unprocessable', 'this idempotency key was already used with a different request body', {
      param: idempotencyHeader,
    });
  }
  if (existing.status === null) {
    throw new AppError('idempotency_conflict', 'a request with this idempotency key is still being processed');
  }
  const actor = actorOf(request);
  if (actor) await reauthorize(authorizer, readChecks(existing.authorizations), actor);
  return (
    reply
      .code(existing.status)
      .header('idempotent-replayed', 'true')
      // Errors of the management API are always problem details; successes are JSON.
      .type(existing.status >= 400 ? problemContentType : 'application/json')
      .send(existing.response ?? '')
  );
}

// --- Re-authorization -----------------------------------------------------------------------------------------

/** One argument of a recorded check: the caller, the caller's scope in an organization, or a plain value. */
type RecordedArgument =
  | { readonly kind: 'actor' }
  | { readonly kind: 'scope'; readonly orgId: string }
  | { readonly kind: 'undefined' }
  | { readonly kind: 'value'; readonly value: unknown };

interface RecordedCheck {
  readonly method: string;
  readonly args: readonly RecordedArgument[];
}

/** The checks made for each in-flight idempotent request, keyed by its actor object (one per request). */
const recordedChecks = new WeakMap<Actor, RecordedCheck[]>();

function isOrgScope(value: unknown): value is OrgScope {
  return typeof value === 'object' && value !== null && 'orgId' in value && 'actor' in value && 'role' in value;
}

/**
 * The authorizer routes use: unchanged, except that while an idempotent request runs, each check it makes is noted
 * so a replay of that request can make the same checks again. Routes need no change to be replay-safe.
 */
export function replayableAuthorizer(authorizer: Authorizer): Authorizer {
  return new Proxy(authorizer, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property !== 'string' || !/^(authorize|resolveScope)/.test(property)) return method.bind(target);
      return (...args: unknown[]) => {
        noteCheck(property, args);
        return method.apply(target, args);
      };
    },
  });
}

function noteCheck(method: string, args: readonly unknown[]): void {
  const first = args[0];
  const actor = isOrgScope(first) ? first.actor : (first as Actor | undefined);
  const checks = actor === undefined ? undefined : recordedChecks.get(actor);
  if (!checks) return;
  checks.push({
    method,
    args: args.map((argument): RecordedArgument => {
      if (argument === actor) return { kind: 'actor' };
      if (isOrgScope(argument) && argument.actor === actor) return { kind: 'scope', orgId: argument.orgId };
      if (argument === undefined) return { kind: 'undefined' };
      return { kind: 'value', value: argument };
    }),
  });
}

function readChecks(stored: string | null): RecordedCheck[] {
  // Never reached for a signed-in caller (such records are taken over, not replayed); refuse rather than skip checks.
  if (stored === null) throw new AppError('internal_error', 'this idempotency record has no permission checks');
  return JSON.parse(stored) as RecordedCheck[];
}

async function reauthorize(authorizer: Authorizer, checks: readonly RecordedCheck[], actor: Actor): Promise<void> {
  const scopes = new Map<string, OrgScope>();
  for (const check of checks) {
    const args: unknown[] = [];
    for (const argument of check.args) {
      switch (argument.kind) {
        case 'actor':
          args.push(actor);
          break;
        case 'scope':
          args.push(scopes.get(argument.orgId) ?? (await authorizer.resolveScope(actor, argument.orgId)));
          break;
        case 'undefined':
          args.push(undefined);
          break;
        case 'value':
          args.push(argument.value);
          break;
      }
    }
    const method: unknown = Reflect.get(authorizer, check.method);
    if (typeof method !== 'function') throw new AppError('internal_error', `unknown permission check ${check.method}`);
    const result: unknown = await (method as (...values: unknown[]) => unknown).apply(authorizer, args);
    if (isOrgScope(result)) scopes.set(result.orgId, result);
  }
}

// --- What is stored -------------------------------------------------------------------------------------------

const secretFieldName = /secret|password|token|credential|api_key$/i;
/** Shorter values are not searched for inside other strings: too likely to match by chance. */
const minimumSecretLength = 12;

/**
 * The response body as stored for replay: without the route's omitted fields, without any field named like a
 * secret, and without any string that embeds one of the removed values (an accept link carrying its token).
 */
function storableResponse(payload: string, omits: readonly string[]): string | null {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    // Not JSON: store nothing rather than risk keeping what was meant to be shown once.
    return null;
  }
  const removed: string[] = [];
  const withoutSecrets = dropSecretFields(body, omits, removed);
  const embedded = removed.filter((value) => value.length >= minimumSecretLength);
  return JSON.stringify(embedded.length === 0 ? withoutSecrets : dropEmbedding(withoutSecrets, embedded));
}

function dropSecretFields(value: unknown, omits: readonly string[], removed: string[], depth = 0): unknown {
  if (Array.isArray(value)) return value.map((item) => dropSecretFields(item, omits, removed, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [field, child] of Object.entries(value)) {
    if ((depth === 0 && omits.includes(field)) || secretFieldName.test(field)) {
      collectStrings(child, removed);
      continue;
    }
    kept[field] = dropSecretFields(child, omits, removed, depth + 1);
  }
  return kept;
}

function collectStrings(value: unknown, into: string[]): void {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) collectStrings(item, into);
  else if (value !== null && typeof value === 'object')
    for (const item of Object.values(value)) collectStrings(item, into);
}

function dropEmbedding(value: unknown, secrets: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => dropEmbedding(item, secrets));
  if (value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [field, child] of Object.entries(value)) {
    const embeds =
      typeof child === 'string' &&
      secrets.some((secret) => child.includes(secret) || child.includes(encodeURIComponent(secret)));
    if (!embeds) kept[field] = dropEmbedding(child, secrets);
  }
  return kept;
}
