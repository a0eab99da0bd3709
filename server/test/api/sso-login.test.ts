import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { DatabaseEngine } from '../../src/db/database.ts';
import { createApp, type AppInstance } from '../../src/http/create-app.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import type { SsoIdentitiesTable } from '../../src/modules/sso/index.ts';
// The tenancy module seals the client secret when an admin saves the settings; tests write the row directly.
import { ssoSecretContext } from '../../src/modules/tenancy/org-settings.ts';
import {
  signInAtProvider,
  startOidcTestProvider,
  TestBrowser,
  type OidcTestProvider,
  type TestAccount,
} from '../support/oidc-test-provider.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const alice: TestAccount = { id: 'alice', email: 'Alice@Example.com', emailVerified: true, name: 'Alice Liddell' };
const bob: TestAccount = { id: 'bob', email: 'bob@elsewhere.org', emailVerified: true, name: 'Bob' };
const carol: TestAccount = { id: 'carol', email: 'carol@example.com', emailVerified: false, name: 'Carol' };
const dave: TestAccount = { id: 'dave', email: 'dave@example.com', emailVerified: true, name: 'Dave' };
const erin: TestAccount = { id: 'erin', email: 'erin@example.com', emailVerified: true, name: 'Erin' };
const grace: TestAccount = { id: 'grace', email: 'grace@example.com', emailVerified: true, name: 'Grace' };
const heidi: TestAccount = { id: 'heidi', email: 'heidi@example.com', emailVerified: true, name: 'Heidi' };

interface SsoTestApp {
  readonly instance: AppInstance;
  readonly origin: string;
  readonly config: Config;
  readonly database: TestDatabase;
  close(): Promise<void>;
}

/** A port nobody holds right now, so the public URL (and thus the redirect URI) can be configured before listening. */
async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * AI Hub on a real loopback socket whose public URL is that socket, with SSO allowed to reach an http issuer on
 * loopback (the test provider). `sso` is not a declared Config field yet, see modules/sso/sso-runtime-options.ts.
 */
async function startSsoTestApp(engine: DatabaseEngine): Promise<SsoTestApp> {
  const port = await findFreePort();
  const origin = `http://127.0.0.1:${port}`;
  const database = await createTestDatabase(engine);
  const loaded = loadConfig({
    environment: {},
    overrides: {
      dataDir: database.dataDir,
      databaseUrl: database.databaseUrl,
      secretKey: randomBytes(32),
      logLevel: 'silent',
      identity: { publicUrl: origin },
    },
  });
  const config = { ...loaded, sso: { allowInsecureLoopback: true } } satisfies typeof loaded;
  const instance = await createApp(config, { database: database.handle, logger: false });
  instance.app.addHook('preClose', async () => {
    instance.app.server.closeAllConnections();
  });
  await instance.app.listen({ port, host: '127.0.0.1' });
  return {
    instance,
    origin,
    config,
    database,
    close: async () => {
      await instance.close();
      await database.drop();
    },
  };
}

describe.each(testEngines)('OpenID Connect single sign-on on %s', (engine) => {
  let app: SsoTestApp;
  let provider: OidcTestProvider;
  const orgs = {
    open: `org_open_${randomUUID().slice(0, 8)}`,
    restricted: `org_restricted_${randomUUID().slice(0, 8)}`,
    disabled: `org_disabled_${randomUUID().slice(0, 8)}`,
    ownerDefault: `org_owner_${randomUUID().slice(0, 8)}`,
    metadataIssuer: `org_metadata_${randomUUID().slice(0, 8)}`,
  };

  const db = () => app.instance.services.database.db;
  const loginUrl = (orgId: string, returnTo?: string) =>
    `${app.origin}/api/v1/sso/${orgId}/login${returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`}`;

  async function configureSso(
    orgId: string,
    sso: { enabled: boolean; issuer?: string; default_role?: string; allowed_domains?: string[] },
  ): Promise<void> {
    const now = Date.now();
    const sealed = new SecretBox(app.config.secretKey).encrypt(provider.clientSecret, ssoSecretContext(orgId));
    const settings = {
      sso: { issuer: provider.issuer, client_id: provider.clientId, client_secret_sealed: sealed, ...sso },
    };
    await db()
      .insertInto('organizations')
      .values({
        id: orgId,
        name: orgId,
        settings: JSON.stringify(settings),
        deleted_at: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }

  /** Login → provider (sign-in, consent) → back at the callback; returns the callback URL and the browser. */
  async function reachCallback(
    orgId: string,
    login: string,
    options: { returnTo?: string; browser?: TestBrowser } = {},
  ): Promise<{ browser: TestBrowser; callbackUrl: URL }> {
    const browser = options.browser ?? new TestBrowser();
    const start = await browser.fetch(loginUrl(orgId, options.returnTo));
    expect(start.status).toBe(302);
    const callbackUrl = await signInAtProvider(browser, start.headers.get('location') ?? '', login);
    return { browser, callbackUrl };
  }

  async function signIn(orgId: string, login: string, options: { returnTo?: string; browser?: TestBrowser } = {}) {
    const { browser, callbackUrl } = await reachCallback(orgId, login, options);
    const response = await browser.fetch(callbackUrl);
    return { browser, response, callbackUrl };
  }

  async function findUser(email: string) {
    return db().selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async function membership(orgId: string, userId: string) {
    return db()
      .selectFrom('org_members')
      .select('role')
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }

  async function identitiesOf(userId: string) {
    return db()
      .withTables<{ sso_identities: SsoIdentitiesTable }>()
      .selectFrom('sso_identities')
      .selectAll()
      .where('user_id', '=', userId)
      .execute();
  }

  async function problemOf(response: Response): Promise<{ status: number; code: string; param?: string }> {
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    return (await response.json()) as { status: number; code: string; param?: string };
  }

  beforeAll(async () => {
    app = await startSsoTestApp(engine);
    provider = await startOidcTestProvider({
      redirectUris: Object.values(orgs).map((orgId) => `${app.origin}/api/v1/sso/${orgId}/callback`),
      accounts: [alice, bob, carol, dave, erin, grace, heidi],
    });
    await configureSso(orgs.open, { enabled: true, default_role: 'viewer' });
    await configureSso(orgs.restricted, { enabled: true, allowed_domains: ['Example.com'] });
    await configureSso(orgs.disabled, { enabled: false });
    await configureSso(orgs.ownerDefault, { enabled: true, default_role: 'owner' });
    await configureSso(orgs.metadataIssuer, { enabled: true, issuer: 'https://169.254.169.254/' });
  });

  afterAll(async () => {
    await app?.close();
    await provider?.close();
  });

  it('signs a new person in end to end: PKCE login, provider sign-in, callback, session cookies, membership', async () => {
    const browser = new TestBrowser();
    const start = await browser.fetch(loginUrl(orgs.open, '/console/keys?tab=mine'));
    expect(start.status).toBe(302);
    const authorization = new URL(start.headers.get('location') ?? '');
    expect(authorization.origin).toBe(provider.issuer);
    expect(authorization.searchParams.get('client_id')).toBe(provider.clientId);
    expect(authorization.searchParams.get('response_type')).toBe('code');
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authorization.searchParams.get('state')).toBeTruthy();
    expect(authorization.searchParams.get('nonce')).toBeTruthy();
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${app.origin}/api/v1/sso/${orgs.open}/callback`);
    const transactionCookie = start.headers.getSetCookie().find((line) => line.startsWith('aihub_sso='));
    expect(transactionCookie).toMatch(/HttpOnly/i);
    expect(transactionCookie).toMatch(/SameSite=Lax/i);
    expect(transactionCookie).toContain(`Path=/api/v1/sso/${orgs.open}`);
    // The verifier is sealed: nothing of the PKCE transaction is readable in the cookie.
    expect(decodeURIComponent(transactionCookie ?? '')).not.toContain(authorization.searchParams.get('state') ?? '');

    const callbackUrl = await signInAtProvider(browser, authorization.href, alice.id);
    expect(callbackUrl.origin).toBe(app.origin);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();
    const callback = await browser.fetch(callbackUrl);

    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/console/keys?tab=mine');
    const sessionCookie = browser.cookie(app.origin, 'aihub_session');
    expect(sessionCookie).toBeTruthy();
    expect(browser.cookie(`${app.origin}/api/v1/auth/refresh`, 'aihub_refresh')).toBeTruthy();
    expect(browser.cookie(app.origin, 'aihub_csrf')).toBeTruthy();
    expect(browser.cookie(`${app.origin}/api/v1/sso/${orgs.open}/callback`, 'aihub_sso')).toBeUndefined();

    const user = await findUser('alice@example.com');
    expect(user).toMatchObject({ name: 'Alice Liddell', role: 'member', password_hash: null });
    expect(user?.email_verified_at).toEqual(expect.any(Number));
    expect(await membership(orgs.open, user!.id)).toEqual({ role: 'viewer' });
    expect(await identitiesOf(user!.id)).toEqual([
      expect.objectContaining({ issuer: provider.issuer, subject: 'alice', email: 'alice@example.com' }),
    ]);
    const audit = await db()
      .selectFrom('audit_events')
      .select(['org_id', 'action', 'actor_user_id', 'target_id'])
      .where('target_id', '=', user!.id)
      .orderBy('action')
      .execute();
    expect(audit).toEqual([
      { org_id: orgs.open, action: 'member.add', actor_user_id: user!.id, target_id: user!.id },
      { org_id: orgs.open, action: 'user.create', actor_user_id: user!.id, target_id: user!.id },
    ]);

    const me = await browser.fetch(`${app.origin}/api/v1/me`);
    expect(me.status).toBe(200);
    const body = (await me.json()) as { id: string; email: string; organizations: Array<{ id: string; role: string }> };
    expect(body).toMatchObject({ id: user!.id, email: 'alice@example.com' });
    expect(body.organizations).toEqual([expect.objectContaining({ id: orgs.open, role: 'viewer' })]);
  });

  it('reuses the account on a second sign-in, and still finds it after the email changes at the provider', async () => {
    const first = await signIn(orgs.open, alice.id, { returnTo: '/' });
    expect(first.response.status).toBe(302);
    const user = await findUser('alice@example.com');

    // Same browser: the provider remembers the person and the consent, and redirects straight back.
    const again = await signIn(orgs.open, alice.id, { browser: first.browser });
    expect(again.response.status).toBe(302);
    expect(again.response.headers.get('location')).toBe('/');

    provider.accounts.set('alice', { ...alice, email: 'alice.liddell@example.com' });
    try {
      const renamed = await signIn(orgs.open, alice.id);
      expect(renamed.response.status).toBe(302);
      const me = (await (await renamed.browser.fetch(`${app.origin}/api/v1/me`)).json()) as { id: string };
      expect(me.id).toBe(user!.id);
    } finally {
      provider.accounts.set('alice', alice);
    }

    const users = await db().selectFrom('users').select('id').where('email', 'like', 'alice%').execute();
    expect(users).toEqual([{ id: user!.id }]);
    expect(await identitiesOf(user!.id)).toEqual([
      expect.objectContaining({ subject: 'alice', email: 'alice.liddell@example.com' }),
    ]);
    const creations = await db()
      .selectFrom('audit_events')
      .select('id')
      .where('action', '=', 'user.create')
      .where('target_id', '=', user!.id)
      .execute();
    expect(creations).toHaveLength(1);
  });

  it('gives a person one account when their first two sign-ins complete at the same time', async () => {
    const [first, second] = await Promise.all([reachCallback(orgs.open, heidi.id), reachCallback(orgs.open, heidi.id)]);
    const responses = await Promise.all([
      first.browser.fetch(first.callbackUrl),
      second.browser.fetch(second.callbackUrl),
    ]);
    expect(responses.map((response) => response.status)).toEqual([302, 302]);
    const users = await db().selectFrom('users').select('id').where('email', '=', 'heidi@example.com').execute();
    expect(users).toHaveLength(1);
    expect(await identitiesOf(users[0]!.id)).toHaveLength(1);
  });

  it('refuses a callback whose state does not match the sign-in with 400', async () => {
    const { browser, callbackUrl } = await reachCallback(orgs.open, grace.id);
    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', 'not-the-state-we-sent');
    const response = await browser.fetch(tampered);
    expect(response.status).toBe(400);
    expect(await problemOf(response)).toMatchObject({ code: 'invalid_request', param: 'state' });
    expect(await findUser('grace@example.com')).toBeUndefined();
  });

  it('refuses a callback without the transaction cookie, and a replayed callback, with 400', async () => {
    const { callbackUrl } = await reachCallback(orgs.open, erin.id);
    const otherBrowser = await new TestBrowser().fetch(callbackUrl);
    expect(otherBrowser.status).toBe(400);
    expect((await problemOf(otherBrowser)).code).toBe('invalid_request');

    const { browser, callbackUrl: secondCallback } = await reachCallback(orgs.open, erin.id);
    expect((await browser.fetch(secondCallback)).status).toBe(302);
    const replay = await browser.fetch(secondCallback);
    expect(replay.status).toBe(400);
  });

  it('answers 403 when the person declines at the provider', async () => {
    const browser = new TestBrowser();
    const start = await browser.fetch(loginUrl(orgs.open));
    const callbackUrl = await signInAtProvider(browser, start.headers.get('location') ?? '', grace.id, {
      decline: true,
    });
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    const response = await browser.fetch(callbackUrl);
    expect(response.status).toBe(403);
    expect((await problemOf(response)).code).toBe('forbidden');
    expect(await findUser('grace@example.com')).toBeUndefined();
  });

  it('refuses an email outside the allowed domains with 403 and creates nothing', async () => {
    const { response } = await signIn(orgs.restricted, bob.id);
    expect(response.status).toBe(403);
    expect((await problemOf(response)).code).toBe('forbidden');
    expect(await findUser('bob@elsewhere.org')).toBeUndefined();

    const allowed = await signIn(orgs.restricted, dave.id);
    expect(allowed.response.status).toBe(302);
  });

  it('refuses an email the provider has not verified with 403', async () => {
    const { response } = await signIn(orgs.open, carol.id);
    expect(response.status).toBe(403);
    expect((await problemOf(response)).code).toBe('forbidden');
    expect(await findUser('carol@example.com')).toBeUndefined();
  });

  it('answers 404 when SSO is disabled for the organization or the organization does not exist', async () => {
    const disabled = await new TestBrowser().fetch(loginUrl(orgs.disabled));
    expect(disabled.status).toBe(404);
    expect((await problemOf(disabled)).code).toBe('not_found');
    const unknown = await new TestBrowser().fetch(loginUrl('org_does_not_exist'));
    expect(unknown.status).toBe(404);
  });

  it.each(['https://evil.example/', '//evil.example/path', '/\\evil.example', 'console', 'javascript:alert(1)'])(
    'refuses return_to %s with 400 (open-redirect guard)',
    async (returnTo) => {
      const response = await new TestBrowser().fetch(loginUrl(orgs.open, returnTo));
      expect(response.status).toBe(400);
      expect(await problemOf(response)).toMatchObject({ code: 'invalid_request', param: 'return_to' });
    },
  );

  it('never grants owner just in time: an owner default role reads as member', async () => {
    const { response } = await signIn(orgs.ownerDefault, erin.id);
    expect(response.status).toBe(302);
    const user = await findUser('erin@example.com');
    expect(await membership(orgs.ownerDefault, user!.id)).toEqual({ role: 'member' });
  });

  it('does not hand an existing account that is not a member to the organization’s provider (409)', async () => {
    const now = Date.now();
    const existingId = randomUUID();
    const email = `frank-${engine}@example.com`;
    provider.accounts.set('frank', { id: 'frank', email, emailVerified: true, name: 'Frank' });
    await db()
      .insertInto('users')
      .values({ id: existingId, email, name: 'Frank', role: 'member', created_at: now, updated_at: now })
      .execute();

    const refused = await signIn(orgs.open, 'frank');
    expect(refused.response.status).toBe(409);
    expect(await identitiesOf(existingId)).toEqual([]);
    expect(await membership(orgs.open, existingId)).toBeUndefined();

    // Once the organization has them as a member, signing in links the identity to that account.
    await db()
      .insertInto('org_members')
      .values({ org_id: orgs.open, user_id: existingId, role: 'admin', created_at: now })
      .execute();
    const linked = await signIn(orgs.open, 'frank');
    expect(linked.response.status).toBe(302);
    expect(await identitiesOf(existingId)).toHaveLength(1);
    expect(await membership(orgs.open, existingId)).toEqual({ role: 'admin' });
  });

  it('refuses an issuer on a link-local (cloud metadata) address before any request is made', async () => {
    const response = await new TestBrowser().fetch(loginUrl(orgs.metadataIssuer));
    expect(response.status).toBe(502);
    expect((await problemOf(response)).code).toBe('upstream_error');
  });
});
