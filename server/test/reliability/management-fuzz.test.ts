import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEngine } from '../../src/db/database.ts';
import { errorCatalog, type ErrorCode } from '../../src/errors/app-error.ts';
import { deepNesting, mutate, mutationOf, type Mutation } from '../support/body-mutations.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import {
  listServedRoutes,
  readOpenApiDocument,
  type OpenApiDocument,
  type OpenApiOperation,
} from '../support/route-table.ts';
import { RawJson, serialize } from '../support/raw-json.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';

/**
 * Property: whatever a client sends to any route that is not the gateway's (the management API under /api/v1 and
 * /api/v2, the auth routes, health, the console pages and the API docs), the server answers without a 5xx, and every
 * /api error is RFC 9457 problem+json whose `status` and `code` agree with the HTTP status. The caller is the owner
 * of a seeded organization, so authorization passes and the input reaches the services.
 *
 * Routes are read from the live router and their parameters and bodies from the OpenAPI document, so a new route is
 * fuzzed without touching this file. Each request is a valid-shaped one (ids of real resources, a body generated from
 * the route's schema) with some of: 1–3 body mutations (wrong types, removed or unknown fields, huge strings, unicode
 * edge cases, deep nesting, numbers beyond the safe range, dates out of range), malformed path parameters (not ids,
 * too long, traversal-like, NUL, bad percent-encoding), malformed or repeated query parameters and cursors, bodies
 * that are not JSON or not sent as JSON, bodies beyond the body limit, and invalid Idempotency-Key values.
 *
 * Creating routes also check that a refused request wrote nothing (row counts before and after). The figures are in
 * docs/reliability.md under "Malformed input".
 */

const bodyLimitBytes = 64 * 1024;

/** The OpenAPI parts this test reads beyond support/route-table.ts: request bodies and query parameter names. */
interface JsonSchema {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
}

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

interface FuzzRoute {
  readonly key: string;
  readonly method: HttpMethod;
  readonly path: string;
  readonly pathParameters: readonly string[];
  readonly queryParameters: readonly string[];
  readonly body: JsonSchema | undefined;
}

/** A seeded organization whose ids fill path parameters and id-like body fields. */
interface World {
  readonly owner: SignedInUser;
  readonly subject: SignedInUser;
  readonly orgId: string;
  readonly teamId: string;
  readonly keyId: string;
  readonly invitationId: string;
  readonly invitationToken: string;
}

/** Served routes the fuzzer does not send to: the gateway (fuzzed in gateway-fuzz.test.ts). */
const isFuzzed = (path: string) => !path.startsWith('/v1/');

type OperationWithBody = OpenApiOperation & {
  readonly requestBody?: { readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>> };
};

function readFuzzRoutes(served: readonly string[], document: OpenApiDocument): FuzzRoute[] {
  return served.flatMap((key) => {
    const [method = '', path = ''] = key.split(' ');
    if (!isFuzzed(path)) return [];
    const operation: OperationWithBody | undefined = document.paths[path]?.[method.toLowerCase()];
    return [
      {
        key,
        method: method as FuzzRoute['method'],
        path,
        // A wildcard (`/api/docs/*`, static files) is a parameter too: traversal attempts go there.
        pathParameters: [...path.matchAll(/\{(\w+)\}|\*/g)].map((match) => match[1] ?? '*'),
        queryParameters: (operation?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        body: operation?.requestBody?.content?.['application/json']?.schema,
      },
    ];
  });
}

const unicodeEdges = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  '\u202e',
  '\ufeff',
  '\uffff',
  '💩',
  'e\u0301',
  'Ａｄｍｉｎ',
  '\u200b',
  '\r\n',
  '\t',
  ' ',
  '',
  'İ',
  'ß'.repeat(100),
  '𝕏'.repeat(150),
];

const outOfRangeDates = [
  '+275761-01-01T00:00:00Z',
  '-271822-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '0000-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-30T25:61:61Z',
  '2024-13-01',
  'not a date',
  '1e400',
  '9'.repeat(40),
];

const unsafeNumbers = [
  new RawJson('9007199254740993'),
  new RawJson('1e400'),
  new RawJson('-1e400'),
  new RawJson('1e-400'),
  new RawJson('123456789012345678901234567890'),
  new RawJson('-0'),
  new RawJson('2147483648'),
  new RawJson('4294967296'),
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_VALUE,
  -1,
  0,
  0.5,
];

/** Strings that look like what a field wants and are not quite: addresses, ranges, URLs, emails, names. */
const nearMisses = [
  '1.2.3.4/33',
  '::1/129',
  '1.2.3.4/-1',
  '1.2.3.4/',
  '/24',
  '0.0.0.0/0',
  '::/0',
  '256.0.0.1',
  'fe80::1%eth0',
  '::ffff:1.2.3.4/200',
  '1.2.3.4/08',
  'https://',
  'https://localhost',
  'https://[::1]:99999',
  'https://user:pass@example.com',
  'https://example.com/?q#f',
  'javascript:alert(1)',
  'http://169.254.169.254/latest',
  'a@b',
  '@',
  'a@',
  '"a b"@example.com',
  'a@b..c',
  'ÄÖ@例え.jp',
  'x@[127.0.0.1]',
  '-created_at',
  'owner',
  'management:write',
  'chat,models',
  'gpt-test',
  '*',
  '%',
  '_',
  '\\',
];

const json = fc.jsonValue({ maxDepth: 3 });
const hugeString = fc.integer({ min: 1_000, max: 60_000 }).map((length) => 'x'.repeat(length));
const fieldNames = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'id',
  'org_id',
  'role',
  'owner',
  'secret',
  'password',
  'created_at',
  '',
  'a.b',
  '$where',
);
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: json },
  { weight: 3, arbitrary: fc.constantFrom(...unicodeEdges) },
  { weight: 3, arbitrary: fc.constantFrom(...nearMisses) },
  { weight: 2, arbitrary: fc.constantFrom(...unsafeNumbers) },
  { weight: 2, arbitrary: fc.constantFrom(...outOfRangeDates) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { '': null }) },
  { weight: 1, arbitrary: fc.dictionary(fieldNames, json, { maxKeys: 3 }) },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: hugeString },
);

/** A value of `schema`'s shape; id-like fields get the ids of real resources so the request reaches the service. */
function validValue(schema: JsonSchema, name: string, world: () => World): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((member) => validValue(member, name, world)));
  switch (schema.type ?? 'any') {
    case 'object': {
      const properties = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(properties).map(
        ([key, child]) =>
          [
            key,
            required.has(key) ? validValue(child, key, world) : sometimes(validValue(child, key, world), 1, 1),
          ] as const,
      );
      return fc
        .record(Object.fromEntries(entries))
        .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)));
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      return fc.array(validValue(schema.items ?? {}, name, world), {
        minLength: min,
        maxLength: Math.max(min, Math.min(schema.maxItems ?? 3, 3)),
      });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1_000, 2_147_483_647) });
    case 'number':
      return fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 1_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      return validString(schema, name, world);
    default:
      return json;
  }
}

function validString(schema: JsonSchema, name: string, world: () => World): fc.Arbitrary<string> {
  if (schema.format === 'email' || name === 'email') {
    return fc.nat({ max: 50 }).map((n) => `fuzz-${n}@example.com`);
  }
  if (schema.format === 'date-time' || name.endsWith('_at')) {
    return fc.integer({ min: 1, max: 400 }).map((days) => new Date(Date.now() + days * 86_400_000).toISOString());
  }
  const ids: Record<string, (current: World) => string> = {
    user_id: (current) => current.subject.userId,
    team_id: (current) => current.teamId,
    org_id: (current) => current.orgId,
    key_id: (current) => current.keyId,
  };
  const id = ids[name];
  if (id) return fc.constant(null).map(() => id(world()));
  if (name.includes('password')) return fc.constantFrom('correct horse battery staple', 'Sh0rt', 'x'.repeat(300));
  if (name === 'issuer') return fc.constantFrom('https://sso.example.com', 'http://127.0.0.1/', 'https://10.0.0.1');
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? 40, 40));
  if (['ip_allowlist', 'allowed_domains', 'issuer', 'allowed_models', 'default_models'].includes(name)) {
    return fc.oneof(fc.constantFrom(...nearMisses), fc.constantFrom('203.0.113.7', '10.0.0.0/8', 'example.com'));
  }
  return fc
    .string({ minLength: min, maxLength: max })
    .map((text) => (text.trim() === '' ? `v${text}`.slice(0, max || 1) : text));
}

const mutation = mutationOf(wrongValue, fieldNames);

/** A path segment as it goes on the wire: some are deliberately not valid percent-encoding. */
const badPathSegment = fc.oneof(
  fc.constantFrom(
    '..',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f%2e%2e',
    '....%2F%2F',
    '%00',
    'a%00b',
    '%ZZ',
    '%',
    '%C0%AF',
    '%ED%A0%80',
    '%F0%9F%92%A9',
    '%E2%80%AE',
    '%EF%BB%BF',
    '%20',
    "'%20OR%201%3D1--",
    '1',
    '-1',
    '0',
    '1e400',
    '9007199254740993',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    '%7B%7D',
    '%5B%5D',
    'me',
    '*',
  ),
  fc.integer({ min: 100, max: 9_000 }).map((length) => 'a'.repeat(length)),
  fc.string({ maxLength: 20, unit: 'grapheme' }).map((text) => encodeURIComponent(text) || 'x'),
);

const base64url = (text: string) => Buffer.from(text).toString('base64url');
const badCursor = fc.oneof(
  fc.constantFrom(
    '',
    'x',
    '!!!',
    '%00',
    base64url('[]'),
    base64url('null'),
    base64url('[1e400,"x"]'),
    base64url('[1e308,"x"]'),
    base64url('[-1e308,"x"]'),
    base64url('[9007199254740993,"x"]'),
    base64url('[1.5,"x"]'),
    base64url('[-1,"x"]'),
    base64url('["not a number","x"]'),
    base64url('["","x"]'),
    base64url('["\\u0000","x"]'),
    base64url('[1,"\\u0000"]'),
    base64url('[1,""]'),
    base64url('["2024-01-01",1]'),
    base64url('[{"a":1},"x"]'),
    base64url('[1,"x",3]'),
    base64url('{"0":1,"1":"x","length":2}'),
    base64url(`[1,"${'x'.repeat(300)}"]`),
    base64url(`["${'9'.repeat(300)}","x"]`),
  ),
  json.map((value) => base64url(JSON.stringify(value))),
  fc.string({ maxLength: 60 }),
);

const badQueryValue = fc.oneof(
  fc.constantFrom(...nearMisses),
  fc.constantFrom('', '0', '-1', '201', '1000', '1e3', '001', '0x10', 'abc', 'true', 'null', '[]', '{}'),
  fc.constantFrom(...outOfRangeDates),
  fc.constantFrom(...unicodeEdges.filter((text) => !/[\ud800-\udfff]/.test(text) || text.length > 1)),
  fc.constantFrom('name', '-name', '--name', '-', 'created_at', '-created_at', 'email', 'x', 'id;drop table users'),
  badCursor,
  fc.integer({ min: 300, max: 5_000 }).map((length) => 'q'.repeat(length)),
);

const safeEncode = (text: string): string => {
  try {
    return encodeURIComponent(text);
  } catch {
    return 'x';
  }
};

const contentTypes = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'application/json ; charset=utf-8',
  'APPLICATION/JSON',
  'application/jsonx',
  'json',
  '*/*',
  '',
);

const idempotencyKeys = fc.oneof(
  fc.constantFrom('', ' ', 'x'.repeat(256), 'x'.repeat(2_000), '\u00ff\u00fe', 'a,b', '\t'),
  fc.uuid(),
  fc.constant(['one', 'two'] as string[]),
);

interface Credentials {
  readonly authorization: string | undefined;
  readonly cookies: readonly [string, string][];
  readonly csrf: string | undefined;
  readonly console: boolean;
}

/** Malformed or mismatched credentials: bearer tokens, session and refresh cookies, CSRF headers. */
const credentials: fc.Arbitrary<Credentials> = fc.record({
  authorization: fc.constantFrom(
    undefined,
    'Bearer {token}',
    'Bearer',
    'Bearer ',
    'bearer {token}',
    'Bearer {token} extra',
    'Basic dXNlcjpwYXNz',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'Bearer sk-aihub-not-a-key',
    `Bearer ${'x'.repeat(5_000)}`,
    'Bearer {token}x',
  ),
  cookies: fc.array(
    fc.tuple(
      fc.constantFrom('aihub_session', 'aihub_refresh', 'aihub_csrf', 'aihub_device'),
      fc.oneof(
        fc.constantFrom('{token}', '', '%ZZ', '%00', '"quoted"', 'a;b', 'x'.repeat(3_000), 'e30.e30.e30'),
        fc.string({ maxLength: 30 }).map(safeEncode),
      ),
    ),
    { maxLength: 3 },
  ),
  csrf: fc.constantFrom(undefined, '', 'x', 'a'.repeat(500), '{token}'),
  console: fc.boolean(),
});

interface FuzzCase {
  readonly route: string;
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Record<string, string | string[]>;
  readonly payload: string | undefined;
}

interface Knobs {
  readonly badParams: readonly (string | undefined)[];
  readonly query: readonly [string, string][];
  readonly bodyKind: 'valid' | 'mutated' | 'strange' | 'none' | 'oversized';
  /** Another method than the route's: not served (404/405), or HEAD for a GET. */
  readonly otherMethod: HttpMethod | undefined;
  readonly mutations: readonly Mutation[];
  readonly strange: string;
  readonly contentType: string | undefined;
  readonly idempotencyKey: string | string[] | undefined;
  /** Instead of the owner's bearer token: other credentials, mostly malformed (see `credentials`). */
  readonly credentials: Credentials | undefined;
}

const strangeBody: fc.Arbitrary<string> = fc.oneof(
  json.map((value) => serialize(value)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('{', '{"name":', '[1,2', '{"a":1}{"b":2}', '\ufeff{}', 'null', '""', '{"__proto__":{"x":1}}', ' '),
  deepNesting.map((value) => value.text),
  wrongValue.map((value) => serialize({ name: 'Fuzz', nested: value })),
);

/** `arbitrary` with weight `weight`, undefined with weight `absent`. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, weight: number, absent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight, arbitrary }, { weight: absent, arbitrary: fc.constant(undefined) });
}

function knobsFor(route: FuzzRoute): fc.Arbitrary<Knobs> {
  const queryPair = fc.tuple(
    fc.oneof(
      {
        weight: 4,
        arbitrary: route.queryParameters.length > 0 ? fc.constantFrom(...route.queryParameters) : fieldNames,
      },
      { weight: 1, arbitrary: fieldNames },
      { weight: 1, arbitrary: fc.constantFrom('limit[]', 'sort[a]', 'cursor', 'limit') },
    ),
    badQueryValue,
  );
  return fc.record({
    badParams: fc.array(sometimes(badPathSegment, 1, 5), {
      minLength: route.pathParameters.length,
      maxLength: route.pathParameters.length,
    }),
    query: fc.array(queryPair, { maxLength: 4 }),
    bodyKind: fc.constantFrom('valid', 'mutated', 'mutated', 'mutated', 'strange', 'none', 'oversized'),
    otherMethod: sometimes(fc.constantFrom<HttpMethod>('HEAD', 'PUT', 'OPTIONS', 'PATCH', 'DELETE', 'GET'), 1, 15),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    strange: strangeBody,
    contentType: sometimes(contentTypes, 1, 6),
    idempotencyKey: sometimes(idempotencyKeys, 1, 3),
    credentials: sometimes(credentials, 1, 8),
  });
}

function buildCase(route: FuzzRoute, world: World, knobs: Knobs, body: unknown): FuzzCase {
  const values: Record<string, string> = {
    org_id: world.orgId,
    team_id: world.teamId,
    user_id: world.subject.userId,
    key_id: world.keyId,
    invitation_id: world.invitationId,
    token: world.invitationToken,
  };
  let index = 0;
  const path = route.path.replace(/\{(\w+)\}|\*/g, (_match, name: string | undefined) => {
    const bad = knobs.badParams[index++];
    return bad ?? encodeURIComponent(name === undefined ? 'index.html' : (values[name] ?? 'fuzz'));
  });
  const query = knobs.query.map(([name, value]) => `${safeEncode(name)}=${safeEncode(value)}`).join('&');
  const headers: Record<string, string | string[]> = { authorization: world.owner.headers.authorization ?? '' };
  let payload: string | undefined;
  if (knobs.bodyKind === 'oversized') payload = `{"name":"${'x'.repeat(bodyLimitBytes + 1)}"}`;
  else if (knobs.bodyKind === 'strange') payload = knobs.strange;
  else if (knobs.bodyKind === 'valid' && body !== undefined) payload = serialize(body);
  else if (knobs.bodyKind === 'mutated' && body !== undefined) payload = serialize(mutate(body, knobs.mutations));
  if (payload !== undefined) headers['content-type'] = knobs.contentType ?? 'application/json';
  if (knobs.idempotencyKey !== undefined) headers['idempotency-key'] = knobs.idempotencyKey;
  if (knobs.credentials !== undefined) {
    const token = world.owner.accessToken;
    const { authorization, cookies, csrf, console: fromConsole } = knobs.credentials;
    if (authorization === undefined) delete headers.authorization;
    else headers.authorization = authorization.replace('{token}', token);
    const cookie = cookies.map(([name, value]) => `${name}=${value.replace('{token}', token)}`).join('; ');
    if (cookie !== '') headers.cookie = cookie;
    if (csrf !== undefined) headers['x-csrf-token'] = csrf;
    if (fromConsole) headers['x-aihub-client'] = 'console';
  }
  return {
    route: route.key,
    method: knobs.otherMethod ?? route.method,
    url: query === '' ? path : `${path}?${query}`,
    headers,
    payload,
  };
}

/** Why `response` is not an acceptable answer, or undefined when it is. */
function judge(fuzzCase: FuzzCase, response: LightMyRequestResponse): string | undefined {
  if (response.statusCode >= 500) return `answered ${response.statusCode}`;
  if (response.statusCode < 400) return undefined;
  if (fuzzCase.method === 'HEAD') return response.body === '' ? undefined : 'HEAD answered with a body';
  const contentType = String(response.headers['content-type'] ?? '');
  let body: Record<string, unknown>;
  try {
    body = response.json<Record<string, unknown>>();
  } catch {
    return `error answer is not JSON: ${response.body.slice(0, 200)}`;
  }
  if (!fuzzCase.url.startsWith('/api/')) {
    return typeof body.error === 'object' ? undefined : 'error answer has no error object';
  }
  if (!contentType.startsWith('application/problem+json')) return `content-type ${contentType}`;
  if (body.status !== response.statusCode) return `problem status ${String(body.status)}`;
  const code = body.code as ErrorCode;
  if (!(code in errorCatalog) || errorCatalog[code].status !== response.statusCode) return `problem code ${code}`;
  if (body.type !== `urn:aihub:problem:${code}`) return `problem type ${String(body.type)}`;
  if (typeof body.title !== 'string' || typeof body.detail !== 'string' || body.detail === '') return 'no title/detail';
  if (body.param !== undefined && typeof body.param !== 'string') return 'param is not a string';
  return undefined;
}

const counted = [
  'users',
  'organizations',
  'org_members',
  'teams',
  'team_members',
  'invitations',
  'api_keys',
  'audit_events',
] as const;

async function rowCounts(testApp: TestApp): Promise<Record<string, number>> {
  const db = testApp.instance.services.database.db;
  const counts: Record<string, number> = {};
  for (const table of counted) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.count);
  }
  return counts;
}

/** Creating routes: a refused request on these must leave every counted table as it was. */
const isCreating = (route: FuzzRoute) =>
  route.method === 'POST' && /\/(organizations|teams|members|keys|invitations|register|rotate)$/.test(route.path);

/** Routes whose success changes what later requests can reach: the world is seeded again after one succeeds. */
const isDestructive = (route: FuzzRoute) =>
  route.method === 'DELETE' ||
  /\/(leave|transfer-ownership|logout|logout-all|accept|decline)$/.test(route.path) ||
  (route.method === 'PATCH' && /\/members\/\{user_id\}$/.test(route.path));

async function seedWorld(testApp: TestApp): Promise<World> {
  const owner = await createSignedInUser(testApp);
  const subject = await createSignedInUser(testApp);
  const orgId = await createOrganization(testApp, owner, `Fuzz ${owner.userId.slice(0, 8)}`);
  await addMember(testApp, orgId, subject, 'member');
  const post = async (url: string, body: unknown) => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: `/api/v1/organizations/${orgId}${url}`,
      headers: owner.headers,
      payload: JSON.stringify(body),
    });
    if (response.statusCode !== 201)
      throw new Error(`seeding ${url} answered ${response.statusCode}: ${response.body}`);
    return response.json<{ id: string; token?: string }>();
  };
  const team = await post('/teams', { name: 'Fuzz team' });
  await post(`/teams/${team.id}/members`, { user_id: subject.userId });
  const key = await post('/keys', { name: 'Fuzz key' });
  const invitation = await post('/invitations', { email: `invitee-${orgId.slice(0, 8)}@example.com`, role: 'member' });
  return {
    owner,
    subject,
    orgId,
    teamId: team.id,
    keyId: key.id,
    invitationId: invitation.id,
    invitationToken: invitation.token ?? 'missing',
  };
}

interface FuzzFailure {
  readonly fuzzCase: FuzzCase;
  readonly status: number;
  readonly problem: string;
  readonly body: string;
}

async function runFuzz(engine: DatabaseEngine, runs: number): Promise<void> {
  const testApp = await startTestApp({ engine, overrides: { bodyLimitBytes } });
  try {
    const document = await readOpenApiDocument(testApp.instance.app);
    const routes = readFuzzRoutes(listServedRoutes(testApp.instance.app), document);
    expect(routes.filter((route) => route.path.startsWith('/api/v')).length).toBeGreaterThanOrEqual(46);
    let world = await seedWorld(testApp);
    const currentWorld = () => world;
    const statuses = new Map<number, number>();
    const perRoute = new Map<string, number>();
    const failures: FuzzFailure[] = [];
    const caseOf = (route: FuzzRoute) =>
      fc
        .tuple(
          fc.constant(route),
          knobsFor(route),
          route.body ? validValue(route.body, '', currentWorld) : fc.constant(undefined),
        )
        .map(([chosen, knobs, body]) => ({ route: chosen, knobs, body }));
    const runCase = async ({ route, knobs, body }: { route: FuzzRoute; knobs: Knobs; body: unknown }) => {
      const fuzzCase = buildCase(route, world, knobs, body);
      const before = isCreating(route) ? await rowCounts(testApp) : undefined;
      const response = await testApp.instance.app.inject({
        method: fuzzCase.method,
        url: fuzzCase.url,
        headers: fuzzCase.headers,
        ...(fuzzCase.payload === undefined ? {} : { payload: fuzzCase.payload }),
      });
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      perRoute.set(route.key, (perRoute.get(route.key) ?? 0) + 1);
      let problem = judge(fuzzCase, response);
      if (problem === undefined && before && response.statusCode >= 400) {
        const after = await rowCounts(testApp);
        if (JSON.stringify(after) !== JSON.stringify(before)) {
          problem = `a refused request wrote rows: ${JSON.stringify(before)} → ${JSON.stringify(after)}`;
        }
      }
      if (problem !== undefined) {
        failures.push({ fuzzCase, status: response.statusCode, problem, body: response.body.slice(0, 400) });
      }
      if (response.statusCode < 300 && isDestructive(route)) world = await seedWorld(testApp);
    };
    // Printed so that a run that dies (not a failed property, which fast-check reports) can be replayed.
    const seed = Number(process.env.AIHUB_FUZZ_SEED ?? Date.now() % 2_147_483_647);
    console.info(`management fuzz on ${engine}: seed ${seed}`);
    await fc.assert(fc.asyncProperty(fc.constantFrom(...routes).chain(caseOf), runCase), { numRuns: runs, seed });
    // Routes the random choice missed (it favours the first ones) get one case each, so every route is fuzzed.
    const missed = routes.filter((route) => !perRoute.has(route.key));
    for (const route of missed) {
      const [fuzzCase] = fc.sample(caseOf(route), { numRuns: 1, seed });
      if (fuzzCase) await runCase(fuzzCase);
    }
    const tried = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    // Reported so the figures in docs/reliability.md can be checked against a run.
    console.info(
      `management fuzz on ${engine}: ${tried} requests over ${perRoute.size} of ${routes.length} routes, ` +
        `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );
    // One line per kind of failure (route and problem), enough to rebuild the request as a regression case.
    const shown = new Map<string, string>();
    for (const { fuzzCase, status, problem, body } of failures) {
      const kind = `${fuzzCase.route} ${problem}`;
      if (shown.has(kind)) continue;
      const { authorization: _authorization, ...headers } = fuzzCase.headers;
      shown.set(
        kind,
        `${status} ${fuzzCase.method} ${fuzzCase.url.slice(0, 200)} headers=${JSON.stringify(headers).slice(0, 200)} ` +
          `payload=${fuzzCase.payload?.slice(0, 200)} → ${body.slice(0, 300)}`,
      );
    }
    expect([...shown.values()]).toEqual([]);
    expect(tried).toBe(runs + missed.length);
    expect(perRoute.size).toBe(routes.length);
  } finally {
    await testApp.close();
  }
}

/** The problem body of an error answer, after checking it is RFC 9457 problem+json that agrees with the status. */
function problemOf(response: LightMyRequestResponse, status: number): { code: string; param?: string; detail: string } {
  expect(response.statusCode, response.body).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const problem = response.json<{ code: ErrorCode; status: number; param?: string; detail: string; type: string }>();
  expect(problem.status).toBe(status);
  expect(errorCatalog[problem.code].status).toBe(status);
  expect(problem.type).toBe(`urn:aihub:problem:${problem.code}`);
  return problem;
}

const cursorOf = (value: string) => Buffer.from(value).toString('base64url');

describe.each(testEngines)('malformed management requests found by fuzzing, on %s', (engine) => {
  let testApp: TestApp;
  let world: World;
  beforeAll(async () => {
    testApp = await startTestApp({ engine, overrides: { bodyLimitBytes } });
    world = await seedWorld(testApp);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const send = (method: FuzzRoute['method'], url: string, payload?: string, headers: Record<string, string> = {}) =>
    testApp.instance.app.inject({
      method,
      url,
      headers: {
        authorization: world.owner.headers.authorization ?? '',
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(payload === undefined ? {} : { payload }),
    });
  const org = () => `/api/v1/organizations/${world.orgId}`;

  it('refuses a NUL character in a path parameter with 400 naming it (was a 500 on PostgreSQL)', async () => {
    expect(problemOf(await send('GET', '/api/v1/organizations/a%00b'), 400).param).toBe('org_id');
    expect(problemOf(await send('DELETE', `${org()}/keys/%00`), 400).param).toBe('key_id');
    expect(problemOf(await send('GET', `${org()}/teams/%00/members`), 400).param).toBe('team_id');
    expect(problemOf(await send('GET', '/api/v1/sso/%00/login'), 400).param).toBe('org_id');
    expect(problemOf(await send('GET', '/api/v1/invitations/%00'), 400).param).toBe('token');
  });

  it('refuses a NUL character in the query or the body, public routes included, writing nothing', async () => {
    expect(problemOf(await send('GET', '/api/v1/organizations?q=a%00'), 400).param).toBe('q');
    const before = await rowCounts(testApp);
    expect(problemOf(await send('POST', `${org()}/teams`, '{"name":"a\\u0000b"}'), 400).param).toBe('name');
    expect(
      problemOf(await send('POST', `${org()}/keys`, '{"name":"k","allowed_models":["m\\u0000"]}'), 400).param,
    ).toBe('allowed_models[0]');
    const login = await send('POST', '/api/v1/auth/login', '{"email":"a\\u0000@example.com","password":"x"}');
    expect(problemOf(login, 400).param).toBe('email');
    expect(await rowCounts(testApp)).toEqual(before);
  });

  it("answers a path segment longer than any id with 414 problem+json, not the router's own JSON", async () => {
    const problem = problemOf(await send('GET', `/api/v1/organizations/${'a'.repeat(5_000)}`), 414);
    expect(problem.code).toBe('uri_too_long');
    problemOf(await send('POST', `${org()}/teams/${'t'.repeat(300)}/members`, '{"user_id":"x"}'), 414);
  });

  it('answers a NUL or traversal in a static file path with 4xx problem+json (a NUL was a 500)', async () => {
    expect(problemOf(await send('GET', '/api/docs/static/a%00b.js'), 403).code).toBe('forbidden');
    for (const url of ['/api/docs/static/..%2f..%2fpackage.json', '/api/docs/static/%C0%AE%C0%AE/package.json']) {
      expect((await send('GET', url)).statusCode).toBeOneOf([400, 404]);
    }
  });

  it('answers a body shorter than its Content-Length with 400 problem+json saying so', async () => {
    const response = await send('POST', `${org()}/teams`, '{"name":"Short"}', { 'content-length': '400' });
    expect(problemOf(response, 400).detail).toMatch(/Content-Length/);
  });

  it('answers a path that is not valid percent-encoding with 400 problem+json', async () => {
    expect(problemOf(await send('GET', '/api/v1/organizations/%ZZ'), 400).code).toBe('invalid_request');
    problemOf(await send('GET', `${org()}/keys/%C0%AF`), 400);
  });

  it('refuses cursors whose sort value no database column can hold (was a 500 on PostgreSQL)', async () => {
    for (const cursor of [
      '[1e308,"x"]',
      '[1.5,"x"]',
      '[9007199254740993,"x"]',
      '[-1e400,"x"]',
      '[1,"a\\u0000"]',
      '[1,""]',
    ]) {
      for (const url of [`${org()}/audit-events`, `${org()}/keys`, `${org()}/teams`, '/api/v1/organizations']) {
        const problem = problemOf(await send('GET', `${url}?cursor=${cursorOf(cursor)}`), 400);
        expect(problem).toMatchObject({ code: 'invalid_cursor', param: 'cursor' });
      }
    }
    // A name-sorted list takes a string cursor; a numeric list refuses one.
    problemOf(await send('GET', `${org()}/keys?cursor=${cursorOf('["name","x"]')}`), 400);
    expect((await send('GET', `${org()}/keys?sort=name&cursor=${cursorOf('["name","x"]')}`)).statusCode).toBe(200);
  });

  it('names an unknown field instead of "must NOT have additional properties"', async () => {
    const problem = problemOf(await send('POST', `${org()}/teams`, '{"name":"T","owner":true}'), 400);
    expect(problem).toMatchObject({ param: 'owner', detail: 'owner is not a known field' });
    const nested = problemOf(await send('PATCH', `${org()}/settings`, '{"sso":{"enabled":true,"x":1}}'), 400);
    expect(nested.param).toBe('sso.x');
  });

  it('refuses money and limit numbers beyond the safe integer range, and out-of-range dates', async () => {
    const before = await rowCounts(testApp);
    for (const payload of [
      '{"name":"k","budget_micros":9007199254740993}',
      '{"name":"k","budget_micros":1e400}',
      '{"name":"k","budget_micros":-1}',
      '{"name":"k","budget_micros":0.5}',
      '{"name":"k","rpm_limit":2147483648}',
      '{"name":"k","tpm_limit":123456789012345678901234567890}',
    ]) {
      const field = Object.keys(JSON.parse(payload.replace(/:[-0-9.e]+/g, ':0')) as object)[1];
      expect(problemOf(await send('POST', `${org()}/keys`, payload), 400).param).toBe(field);
    }
    for (const date of ['+275761-01-01T00:00:00Z', '2024-02-30T25:61:61Z', 'not a date', '1970-01-01T00:00:00Z']) {
      const response = await send('POST', `${org()}/keys`, JSON.stringify({ name: 'k', expires_at: date }));
      expect(response.statusCode, response.body).toBeOneOf([400, 422]);
      expect(problemOf(response, response.statusCode).param).toBe('expires_at');
    }
    for (const since of ['%2B275761-01-01T00:00:00Z', 'not-a-date', '9'.repeat(40)]) {
      expect(problemOf(await send('GET', `${org()}/audit-events?since=${since}`), 400).param).toBe('since');
    }
    expect(await rowCounts(testApp)).toEqual(before);
  });

  it('refuses a body beyond the body limit with 413 and an invalid Idempotency-Key with 400 naming it', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(bodyLimitBytes) });
    expect(problemOf(await send('POST', `${org()}/teams`, huge), 413).code).toBe('body_too_large');
    for (const key of ['', 'k'.repeat(256)]) {
      const response = await send('POST', `${org()}/teams`, '{"name":"Idem"}', { 'idempotency-key': key });
      expect(problemOf(response, 400).param).toBe('idempotency-key');
    }
  });

  it('leaves nothing half-written when a creating request is refused by the service', async () => {
    const before = await rowCounts(testApp);
    const refusals: [string, string][] = [
      [`${org()}/keys`, JSON.stringify({ name: 'k', team_id: 'team_missing' })],
      [`${org()}/keys`, JSON.stringify({ name: 'k', user_id: 'user_missing' })],
      [`${org()}/invitations`, JSON.stringify({ email: 'x@example.com', role: 'member', team_id: 'team_missing' })],
      [`${org()}/invitations`, JSON.stringify({ email: world.subject.email, role: 'member' })],
      [`${org()}/teams/${world.teamId}/members`, JSON.stringify({ user_id: 'user_missing' })],
      [`${org()}/transfer-ownership`, JSON.stringify({ user_id: 'user_missing' })],
    ];
    for (const [url, payload] of refusals) {
      const response = await send('POST', url, payload);
      expect(response.statusCode, `${url} ${payload}: ${response.body}`).toBeGreaterThanOrEqual(400);
      problemOf(response, response.statusCode);
    }
    expect(await rowCounts(testApp)).toEqual(before);
  });
});

const sqliteRuns = Number(process.env.MANAGEMENT_FUZZ_RUNS ?? 4_000);
const postgresRuns = Number(process.env.MANAGEMENT_FUZZ_PG_RUNS ?? 1_200);

describe('management API fuzzing: no 5xx and problem+json for every refusal', () => {
  it(`answers ${sqliteRuns} generated requests on SQLite`, { timeout: 180_000 }, async () => {
    await runFuzz('sqlite', sqliteRuns);
  });

  it(`answers ${postgresRuns} generated requests on PostgreSQL`, { timeout: 180_000 }, async () => {
    await runFuzz('postgres', postgresRuns);
  });
});
