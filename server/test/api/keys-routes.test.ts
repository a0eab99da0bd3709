import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKeySecret } from '../../src/modules/keys/index.ts';
import { createOrganizationAsOperator } from '../../src/modules/tenancy/index.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  asKey,
  callKeysApi,
  createKeyAs,
  createKeysWorld,
  keyAuditEvents,
  keysUrl,
  type KeyBody,
  type KeysWorld,
  type ProblemBody,
} from './keys-support.ts';

const hourMs = 3_600_000;
const inOneDay = () => new Date(Date.now() + 24 * hourMs).toISOString();

describe.each(testEngines)('API key routes on %s', (engine) => {
  let testApp: TestApp;
  let world: KeysWorld;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    world = await createKeysWorld(testApp);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const gateway = (secret: string, url = '/v1/models') =>
    testApp.instance.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${secret}` } });

  describe('POST /organizations/{org_id}/keys', () => {
    it('creates a key with the default scopes and returns its secret once; only a hash is stored', async () => {
      const response = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId), {
        body: { name: '  laptop  ' },
      });

      expect(response.statusCode).toBe(201);
      const key = response.json<KeyBody & { secret: string }>();
      expect(key).toEqual({
        id: expect.any(String),
        name: 'laptop',
        org_id: world.orgId,
        team_id: null,
        user_id: world.member.userId,
        prefix: key.secret.slice(0, key.prefix.length),
        status: 'active',
        scopes: ['chat', 'embeddings', 'models'],
        allowed_models: null,
        ip_allowlist: null,
        rpm_limit: null,
        tpm_limit: null,
        concurrency_limit: null,
        budget_micros: null,
        budget_period: 'total',
        budget_spent_micros: null,
        budget_reserved_micros: null,
        budget_resets_at: null,
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        rotated_from: null,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        secret: expect.stringMatching(/^sk-aihub-/),
      });
      expect(key.prefix.length).toBeLessThan(key.secret.length / 2);

      const row = await testApp.instance.services.database.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', key.id)
        .executeTakeFirstOrThrow();
      expect(row.key_hash).toBe(hashKeySecret(key.secret));
      expect(JSON.stringify(row)).not.toContain(key.secret);

      const fetched = await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, key.id));
      expect(fetched.statusCode).toBe(200);
      const { secret, ...withoutSecret } = key;
      expect(fetched.json()).toEqual(withoutSecret);
      expect(fetched.body).not.toContain(secret);
      expect(fetched.body).not.toContain(row.key_hash);

      expect((await gateway(secret)).statusCode).toBe(200);
    });

    it('stores every setting in normal form', async () => {
      const expiresAt = inOneDay();
      const key = await createKeyAs(testApp, world.admin, world.orgId, {
        name: 'ci',
        scopes: ['models', 'chat', 'management:read', 'chat'],
        allowed_models: ['gpt-test', ' test ', 'gpt-test'],
        ip_allowlist: ['10.1.2.3/8', '203.0.113.7', '2001:DB8:0:0:0:0:0:1', '2001:db8:abcd::/32', '10.0.0.0/8'],
        expires_at: expiresAt,
        rpm_limit: 60,
        tpm_limit: 100_000,
        budget_micros: 5_000_000,
      });

      expect(key).toMatchObject({
        name: 'ci',
        scopes: ['chat', 'models', 'management:read'],
        allowed_models: ['gpt-test', 'test'],
        ip_allowlist: ['10.0.0.0/8', '203.0.113.7', '2001:db8::1', '2001:db8::/32'],
        expires_at: expiresAt,
        rpm_limit: 60,
        tpm_limit: 100_000,
        budget_micros: 5_000_000,
      });
    });

    it.each([
      ['an invalid CIDR', { ip_allowlist: ['10.0.0.0/8', '10.0.0.0/33'] }, 'ip_allowlist[1]'],
      ['an address that is no IP', { ip_allowlist: ['example.com'] }, 'ip_allowlist[0]'],
      ['an IPv6 zone id', { ip_allowlist: ['fe80::1%eth0'] }, 'ip_allowlist[0]'],
      ['an empty IP allowlist', { ip_allowlist: [] }, 'ip_allowlist'],
      ['an expiry in the past', { expires_at: new Date(Date.now() - 1000).toISOString() }, 'expires_at'],
      ['an expiry that is not a date-time', { expires_at: 'tomorrow' }, 'expires_at'],
      ['an unknown scope', { scopes: ['chat', 'admin'] }, 'scopes[1]'],
      ['no scopes at all', { scopes: [] }, 'scopes'],
      ['an empty model allowlist', { allowed_models: [] }, 'allowed_models'],
      ['a zero rpm limit', { rpm_limit: 0 }, 'rpm_limit'],
      ['a fractional tpm limit', { tpm_limit: 1.5 }, 'tpm_limit'],
      ['a negative budget', { budget_micros: -1 }, 'budget_micros'],
      ['a blank name', { name: '   ' }, 'name'],
      ['a team of another organization', { team_id: 'team-of-someone-else' }, 'team_id'],
      ['a user who is not a member', { user_id: 'no-such-user' }, 'user_id'],
    ])('answers %s with 400 problem+json naming the parameter', async (_description, body, param) => {
      const before = await countKeys();
      const response = await callKeysApi(testApp, world.owner, 'POST', keysUrl(world.orgId), {
        body: { name: 'bad', ...body },
      });

      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json<ProblemBody>()).toMatchObject({ status: 400, code: 'invalid_request', param });
      expect(await countKeys()).toBe(before);
    });

    it('answers a team of another organization with 400 on team_id', async () => {
      const response = await callKeysApi(testApp, world.owner, 'POST', keysUrl(world.orgId), {
        body: { name: 'stray', team_id: world.otherTeamId },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<ProblemBody>().param).toBe('team_id');
    });

    it('rejects fields it does not know rather than ignoring them', async () => {
      const response = await callKeysApi(testApp, world.owner, 'POST', keysUrl(world.orgId), {
        body: { name: 'typo', scope: ['chat'] },
      });
      expect(response.statusCode).toBe(400);
    });

    it('replays a retried creation without the secret, which is never stored', async () => {
      const before = await countKeys();
      const send = (body: Record<string, unknown>) =>
        callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId), {
          body,
          headers: { 'idempotency-key': `create-${engine}` },
        });

      const first = await send({ name: 'retried' });
      const retry = await send({ name: 'retried' });
      const conflicting = await send({ name: 'another' });

      expect(first.statusCode).toBe(201);
      const created = first.json<KeyBody & { secret: string }>();
      expect(retry.statusCode).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      const { secret, ...withoutSecret } = created;
      expect(retry.json()).toEqual(withoutSecret);
      expect(conflicting.statusCode).toBe(422);
      expect(await countKeys()).toBe(before + 1);
      const stored = await testApp.instance.services.database.db
        .selectFrom('idempotency_records')
        .select('response')
        .execute();
      expect(JSON.stringify(stored)).not.toContain(secret);
    });
  });

  describe('GET /organizations/{org_id}/keys', () => {
    let listOrgId: string;
    let names: string[];
    beforeAll(async () => {
      // A fresh organization so the list holds exactly what this block creates.
      listOrgId = await createOrganizationAsOperator(
        testApp.instance.services.database.db,
        'Lists',
        world.owner.userId,
        Date.now(),
      );
      await testApp.instance.services.database.db
        .insertInto('teams')
        .values({ id: `team-lists-${engine}`, org_id: listOrgId, name: 'T', created_at: 1, updated_at: 1 })
        .execute();
      names = ['delta', 'alpha', 'echo', 'charlie', 'bravo'];
      for (const name of names) {
        await createKeyAs(testApp, world.owner, listOrgId, {
          name,
          ...(name === 'echo' ? { team_id: `team-lists-${engine}` } : {}),
        });
      }
    });

    const list = async (query: string) => {
      const response = await callKeysApi(testApp, world.owner, 'GET', `${keysUrl(listOrgId)}${query}`);
      expect(response.statusCode).toBe(200);
      return response.json<{ data: KeyBody[]; next_cursor: string | null }>();
    };

    it('pages newest first by default with an opaque cursor', async () => {
      const whole = await list('?limit=200');
      const createdAt = whole.data.map((key) => Date.parse(key.created_at));
      expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
      expect(whole.next_cursor).toBeNull();
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: KeyBody[]; next_cursor: string | null } = await list(
          `?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.map((key) => key.name));
        cursor = page.next_cursor;
      } while (cursor !== null);
      // Keys made in the same millisecond tie on created_at and are ordered by id: compare with the whole list.
      expect(seen).toEqual(whole.data.map((key) => key.name));
      expect([...seen].sort()).toEqual([...names].sort());
    });

    it('sorts by name both ways', async () => {
      expect((await list('?sort=name')).data.map((key) => key.name)).toEqual([...names].sort());
      const descending = await list('?sort=-name&limit=3');
      expect(descending.data.map((key) => key.name)).toEqual(['echo', 'delta', 'charlie']);
      const rest = await list(`?sort=-name&limit=3&cursor=${descending.next_cursor}`);
      expect(rest.data.map((key) => key.name)).toEqual(['bravo', 'alpha']);
      expect(rest.next_cursor).toBeNull();
    });

    it('filters by status, team and user', async () => {
      const [revoked] = (await list('?sort=name&limit=1')).data;
      await callKeysApi(testApp, world.owner, 'DELETE', keysUrl(listOrgId, revoked!.id));

      expect((await list('?status=revoked')).data.map((key) => key.name)).toEqual(['alpha']);
      expect((await list('?status=active&sort=name')).data.map((key) => key.name)).toEqual([
        'bravo',
        'charlie',
        'delta',
        'echo',
      ]);
      expect((await list('?status=expired')).data).toEqual([]);
      expect((await list(`?team_id=team-lists-${engine}`)).data.map((key) => key.name)).toEqual(['echo']);
      expect((await list(`?user_id=${world.owner.userId}`)).data).toHaveLength(5);
      expect((await list('?user_id=someone-else')).data).toEqual([]);
    });

    it.each([
      ['an unknown sort', '?sort=secret', 'invalid_request', 'sort'],
      ['an unknown status', '?status=gone', 'invalid_request', 'status'],
      ['a malformed cursor', '?cursor=not-a-cursor', 'invalid_cursor', 'cursor'],
      ['a limit too large', '?limit=500', 'invalid_request', 'limit'],
    ])('answers %s with 400', async (_description, query, code, param) => {
      const response = await callKeysApi(testApp, world.owner, 'GET', `${keysUrl(listOrgId)}${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json<ProblemBody>()).toMatchObject({ code, param });
    });

    it('refuses a cursor made under another sort order', async () => {
      const byName = await list('?sort=name&limit=1');
      const response = await callKeysApi(
        testApp,
        world.owner,
        'GET',
        `${keysUrl(listOrgId)}?sort=created_at&cursor=${byName.next_cursor}`,
      );
      expect(response.statusCode).toBe(400);
      expect(response.json<ProblemBody>().code).toBe('invalid_cursor');
    });
  });

  describe('PATCH /organizations/{org_id}/keys/{key_id}', () => {
    it('changes settings, and null clears them', async () => {
      const key = await createKeyAs(testApp, world.member, world.orgId, {
        name: 'to-change',
        ip_allowlist: ['10.0.0.0/8'],
        rpm_limit: 10,
      });
      const expiresAt = inOneDay();

      const response = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
        body: {
          name: 'changed',
          scopes: ['chat'],
          allowed_models: ['gpt-test'],
          ip_allowlist: null,
          rpm_limit: null,
          tpm_limit: 5000,
          budget_micros: 0,
          expires_at: expiresAt,
        },
      });

      expect(response.statusCode).toBe(200);
      const changed = response.json<KeyBody>();
      expect(changed).toMatchObject({
        id: key.id,
        name: 'changed',
        scopes: ['chat'],
        allowed_models: ['gpt-test'],
        ip_allowlist: null,
        rpm_limit: null,
        tpm_limit: 5000,
        budget_micros: 0,
        expires_at: expiresAt,
        user_id: world.member.userId,
        created_at: key.created_at,
      });
      expect(changed).not.toHaveProperty('secret');
      // Fields not sent stay as they were.
      const renamed = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
        body: { name: 'renamed' },
      });
      expect(renamed.json()).toEqual({ ...changed, name: 'renamed', updated_at: expect.any(String) });
    });

    it.each([
      ['an empty body', {}, undefined],
      ['an expiry in the past', { expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      ['an invalid CIDR', { ip_allowlist: ['1.2.3.4/40'] }, 'ip_allowlist[0]'],
      ['an unknown scope', { scopes: ['everything'] }, 'scopes[0]'],
      ['a change of owner', { user_id: 'someone' }, undefined],
    ])('answers %s with 400', async (_description, body, param) => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      const response = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), { body });
      expect(response.statusCode).toBe(400);
      if (param !== undefined) expect(response.json<ProblemBody>().param).toBe(param);
    });

    it('answers 409 for a revoked key', async () => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, key.id));
      const response = await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
        body: { name: 'late' },
      });
      expect(response.statusCode).toBe(409);
      expect(response.json<ProblemBody>().code).toBe('conflict');
    });
  });

  describe('DELETE /organizations/{org_id}/keys/{key_id}', () => {
    it('revokes the key, which stops working at once; revoking again changes nothing', async () => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      expect((await gateway(key.secret)).statusCode).toBe(200);

      const response = await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, key.id));

      expect(response.statusCode).toBe(200);
      const revoked = response.json<KeyBody>();
      expect(revoked).toMatchObject({ id: key.id, status: 'revoked', revoked_at: expect.any(String) });
      const rejected = await gateway(key.secret);
      expect(rejected.statusCode).toBe(401);
      expect(rejected.json<{ error: { code: string } }>().error.code).toBe('revoked_api_key');

      const again = await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, key.id));
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(revoked);
      expect((await keyAuditEvents(testApp, key.id)).map((event) => event.action)).toEqual([
        'key.create',
        'key.revoke',
      ]);
    });

    it('answers 404 for a key that does not exist', async () => {
      const response = await callKeysApi(testApp, world.owner, 'DELETE', keysUrl(world.orgId, 'no-such-key'));
      expect(response.statusCode).toBe(404);
      expect(response.json<ProblemBody>().code).toBe('not_found');
    });
  });

  describe('POST /organizations/{org_id}/keys/{key_id}/rotate', () => {
    it('issues a new secret with the same settings and keeps the old key for the grace period', async () => {
      const old = await createKeyAs(testApp, world.member, world.orgId, {
        name: 'rotating',
        scopes: ['chat', 'models'],
        allowed_models: ['gpt-test'],
        ip_allowlist: ['127.0.0.1'],
        rpm_limit: 30,
        budget_micros: 1_000,
      });
      const before = Date.now();

      const response = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, old.id, '/rotate'), {
        body: { grace_period_seconds: 3600 },
      });

      expect(response.statusCode).toBe(201);
      const rotated = response.json<KeyBody & { secret: string }>();
      expect(rotated).toMatchObject({
        name: 'rotating',
        org_id: world.orgId,
        user_id: world.member.userId,
        scopes: ['chat', 'models'],
        allowed_models: ['gpt-test'],
        ip_allowlist: ['127.0.0.1'],
        rpm_limit: 30,
        budget_micros: 1_000,
        expires_at: null,
        status: 'active',
        rotated_from: old.id,
      });
      expect(rotated.id).not.toBe(old.id);
      expect(rotated.secret).not.toBe(old.secret);

      const retiring = (await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, old.id))).json<KeyBody>();
      expect(retiring.status).toBe('active');
      const graceEnd = Date.parse(retiring.expires_at ?? '');
      expect(graceEnd).toBeGreaterThanOrEqual(before + hourMs);
      expect(graceEnd).toBeLessThanOrEqual(Date.now() + hourMs);
      expect((await gateway(old.secret)).statusCode).toBe(200);
      expect((await gateway(rotated.secret)).statusCode).toBe(200);

      const again = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, old.id, '/rotate'), {
        body: {},
      });
      expect(again.statusCode).toBe(409);
    });

    it('defaults to a 24 hour grace period, and never extends an earlier expiry', async () => {
      const plain = await createKeyAs(testApp, world.member, world.orgId);
      const soon = new Date(Date.now() + hourMs).toISOString();
      const expiring = await createKeyAs(testApp, world.member, world.orgId, { expires_at: soon });
      const before = Date.now();

      const rotatePlain = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, plain.id, '/rotate'));
      const rotateExpiring = await callKeysApi(
        testApp,
        world.member,
        'POST',
        keysUrl(world.orgId, expiring.id, '/rotate'),
      );

      expect(rotatePlain.statusCode).toBe(201);
      expect(rotateExpiring.statusCode).toBe(201);
      expect(rotateExpiring.json<KeyBody>().expires_at).toBe(soon);
      const get = async (id: string) =>
        (await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, id))).json<KeyBody>();
      expect(Date.parse((await get(plain.id)).expires_at ?? '')).toBeGreaterThanOrEqual(before + 24 * hourMs);
      expect((await get(expiring.id)).expires_at).toBe(soon);
    });

    it.each([
      ['longer than 7 days', { grace_period_seconds: 7 * 86_400 + 1 }],
      ['negative', { grace_period_seconds: -1 }],
      ['not an integer', { grace_period_seconds: 1.5 }],
    ])('answers a grace period %s with 400', async (_description, body) => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      const response = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, key.id, '/rotate'), {
        body,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<ProblemBody>().param).toBe('grace_period_seconds');
    });

    it('answers 409 for a revoked or expired key', async () => {
      const revoked = await createKeyAs(testApp, world.member, world.orgId);
      await callKeysApi(testApp, world.member, 'DELETE', keysUrl(world.orgId, revoked.id));
      const response = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId, revoked.id, '/rotate'));
      expect(response.statusCode).toBe(409);

      const expired = await createKeyAs(testApp, world.member, world.orgId);
      await testApp.instance.services.database.db
        .updateTable('api_keys')
        .set({ expires_at: Date.now() - 1 })
        .where('id', '=', expired.id)
        .execute();
      const expiredResponse = await callKeysApi(
        testApp,
        world.member,
        'POST',
        keysUrl(world.orgId, expired.id, '/rotate'),
      );
      expect(expiredResponse.statusCode).toBe(409);
    });
  });

  describe('audit', () => {
    it('records every change with its actor, before and after, and never a hash or secret', async () => {
      const key = await createKeyAs(testApp, world.admin, world.orgId, {
        name: 'audited',
        user_id: world.member.userId,
      });
      await callKeysApi(testApp, world.admin, 'PATCH', keysUrl(world.orgId, key.id), { body: { rpm_limit: 5 } });
      const rotation = await callKeysApi(testApp, world.admin, 'POST', keysUrl(world.orgId, key.id, '/rotate'), {
        body: { grace_period_seconds: 60 },
      });
      const replacement = rotation.json<KeyBody & { secret: string }>();
      await callKeysApi(testApp, world.admin, 'DELETE', keysUrl(world.orgId, replacement.id));

      const events = await keyAuditEvents(testApp, key.id);
      expect(events.map((event) => event.action)).toEqual(['key.create', 'key.update', 'key.rotate']);
      for (const event of events) {
        expect(event).toMatchObject({ org_id: world.orgId, actor_user_id: world.admin.userId, target_type: 'api_key' });
        expect(event.request_id).toMatch(/^req_/);
      }
      expect(events[0]!.before).toBeNull();
      expect(events[0]!.after).toMatchObject({ id: key.id, user_id: world.member.userId, status: 'active' });
      expect(events[1]!.before).toMatchObject({ rpm_limit: null });
      expect(events[1]!.after).toMatchObject({ rpm_limit: 5 });
      expect(events[2]!.before).toMatchObject({ expires_at: null });
      expect(events[2]!.after).toMatchObject({ expires_at: expect.any(Number), replaced_by: replacement.id });

      const replacementEvents = await keyAuditEvents(testApp, replacement.id);
      expect(replacementEvents.map((event) => event.action)).toEqual(['key.create', 'key.revoke']);
      expect(replacementEvents[0]!.after).toMatchObject({ rotated_from: key.id });
      expect(replacementEvents[1]!.after).toMatchObject({ status: 'revoked' });

      const printed = JSON.stringify([...events, ...replacementEvents]);
      for (const secret of [key.secret, replacement.secret]) {
        expect(printed).not.toContain(secret);
        expect(printed).not.toContain(hashKeySecret(secret));
      }
    });

    it('writes no event when a request fails validation', async () => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      await callKeysApi(testApp, world.member, 'PATCH', keysUrl(world.orgId, key.id), {
        body: { ip_allowlist: ['nope'] },
      });
      expect((await keyAuditEvents(testApp, key.id)).map((event) => event.action)).toEqual(['key.create']);
    });
  });

  describe('management-scoped keys', () => {
    it('read with management:read, write only with management:write, and only in their own organization', async () => {
      const reader = await createKeyAs(testApp, world.admin, world.orgId, { scopes: ['management:read'] });
      const writer = await createKeyAs(testApp, world.admin, world.orgId, { scopes: ['management:write'] });

      const listed = await callKeysApi(testApp, asKey(reader.secret), 'GET', keysUrl(world.orgId));
      expect(listed.statusCode).toBe(200);
      const refused = await callKeysApi(testApp, asKey(reader.secret), 'POST', keysUrl(world.orgId), {
        body: { name: 'by reader' },
      });
      expect(refused.statusCode).toBe(403);

      const created = await callKeysApi(testApp, asKey(writer.secret), 'POST', keysUrl(world.orgId), {
        body: { name: 'by writer' },
      });
      expect(created.statusCode).toBe(201);
      expect(created.json<KeyBody>().user_id).toBe(world.admin.userId);
      const [event] = await keyAuditEvents(testApp, created.json<KeyBody>().id);
      expect(event?.actor_key_id).toBe(writer.id);

      // The admin owns Globex too, but a key of Acme never reaches it.
      await testApp.instance.services.database.db
        .insertInto('org_members')
        .values({ org_id: world.otherOrgId, user_id: world.admin.userId, role: 'admin', created_at: Date.now() })
        .execute();
      const elsewhere = await callKeysApi(testApp, asKey(writer.secret), 'GET', keysUrl(world.otherOrgId));
      expect(elsewhere.statusCode).toBe(404);
      expect((await callKeysApi(testApp, world.admin, 'GET', keysUrl(world.otherOrgId))).statusCode).toBe(200);
    });
  });

  async function countKeys(): Promise<number> {
    const row = await testApp.instance.services.database.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }
});
