import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import type { IdentityConfig } from '../../src/config/config.ts';
import type { DatabaseEngine } from '../../src/db/database.ts';
import type { MailMessage, Mailer } from '../../src/modules/identity/index.ts';
import { startTestApp, type TestApp } from './test-app.ts';

/** Keeps every account email so tests can follow the links in them. */
export class CapturingMailer implements Mailer {
  readonly messages: MailMessage[] = [];

  async send(message: MailMessage): Promise<void> {
    this.messages.push(message);
  }

  close(): void {}

  to(email: string): MailMessage[] {
    return this.messages.filter((message) => message.to === email);
  }

  /** The link in the latest email to `email` whose link goes to `path` (e.g. /reset-password). */
  linkSentTo(email: string, path: string): URL {
    const link = this.to(email)
      .flatMap((message) => message.text.match(/https?:\/\/\S+/g) ?? [])
      .map((text) => new URL(text))
      .findLast((url) => url.pathname === path);
    if (!link) throw new Error(`no ${path} link was emailed to ${email}`);
    return link;
  }

  /** The token in the link of the latest email to `email` whose link goes to `path`. */
  tokenSentTo(email: string, path: string): string {
    const token = this.linkSentTo(email, path).searchParams.get('token');
    if (!token) throw new Error(`the ${path} link emailed to ${email} has no token`);
    return token;
  }
}

/** Identity settings for tests: open registration and a cheap scrypt cost (production stays at 2^15). */
export const testIdentity: IdentityConfig = {
  registration: 'open',
  publicUrl: 'http://hub.test',
  smtpUrl: undefined,
  emailFrom: 'AI Hub <no-reply@hub.test>',
  requireEmailVerification: false,
  accessTokenTtlSeconds: 900,
  refreshTokenTtlSeconds: 30 * 86_400,
  passwordHashCost: 10,
};

export interface IdentityTestApp {
  readonly testApp: TestApp;
  readonly mailer: CapturingMailer;
  /** POST a JSON body to /api/v1<path>. */
  post(path: string, body?: unknown, options?: RequestOptions): Promise<LightMyRequestResponse>;
  get(path: string, options?: RequestOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  remoteAddress?: string;
  query?: Record<string, string>;
}

export async function startIdentityTestApp(
  engine: DatabaseEngine,
  identity: Partial<IdentityConfig> = {},
): Promise<IdentityTestApp> {
  const mailer = new CapturingMailer();
  const testApp = await startTestApp({ engine, mailer, overrides: { identity: { ...testIdentity, ...identity } } });
  const app = testApp.instance.app;
  return {
    testApp,
    mailer,
    post: (path, body, options = {}) =>
      app.inject({
        method: 'POST',
        url: `/api/v1${path}`,
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
        headers: options.headers ?? {},
        cookies: options.cookies ?? {},
        query: options.query ?? {},
        remoteAddress: options.remoteAddress ?? '127.0.0.1',
      }),
    get: (path, options = {}) =>
      app.inject({
        method: 'GET',
        url: `/api/v1${path}`,
        headers: options.headers ?? {},
        cookies: options.cookies ?? {},
        remoteAddress: options.remoteAddress ?? '127.0.0.1',
      }),
    close: () => testApp.close(),
  };
}

/**
 * An identity test app for the tests of the enclosing `describe`: started before them and closed after. What it
 * returns stands for the app once it has started, so tests and helpers use it as they would the app itself.
 */
export function useIdentityTestApp(engine: DatabaseEngine, identity: Partial<IdentityConfig> = {}): IdentityTestApp {
  let started: IdentityTestApp | undefined;
  beforeAll(async () => {
    started = await startIdentityTestApp(engine, identity);
  });
  afterAll(async () => {
    await started?.close();
  });
  const current = (): IdentityTestApp => {
    if (!started) throw new Error('the identity test app is used before it started (outside a test)');
    return started;
  };
  return {
    get testApp() {
      return current().testApp;
    },
    get mailer() {
      return current().mailer;
    },
    post: (path, body, options) => current().post(path, body, options),
    get: (path, options) => current().get(path, options),
    close: () => current().close(),
  };
}

/** A password that passes the policy. */
export const goodPassword = 'Velvet-Otter-Lantern-42';

let emailCounter = 0;
export function uniqueEmail(prefix = 'person'): string {
  emailCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${emailCounter}@example.com`;
}

/** Registers through the API and returns the new account's id and email. */
export async function registerAccount(
  identityApp: IdentityTestApp,
  options: { email?: string; password?: string; name?: string } = {},
): Promise<{ id: string; email: string; password: string }> {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? goodPassword;
  const response = await identityApp.post('/auth/register', { email, password, name: options.name ?? 'Test Person' });
  if (response.statusCode !== 201) throw new Error(`registration failed: ${response.statusCode} ${response.body}`);
  return { id: response.json<{ id: string }>().id, email, password };
}

export interface BearerSession {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

export async function loginWithPassword(
  identityApp: IdentityTestApp,
  email: string,
  password: string,
  remoteAddress?: string,
): Promise<BearerSession> {
  const response = await identityApp.post(
    '/auth/login',
    { email, password },
    remoteAddress === undefined ? {} : { remoteAddress },
  );
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return response.json<BearerSession>();
}

/** Registers an account and signs in as the console does; returns the cookies it was given, by name. */
export async function signInToConsole(identityApp: IdentityTestApp): Promise<Record<string, string>> {
  const account = await registerAccount(identityApp);
  const login = await identityApp.post(
    '/auth/login',
    { email: account.email, password: goodPassword },
    { query: { session: 'cookie' } },
  );
  if (login.statusCode !== 200) throw new Error(`console sign-in failed: ${login.statusCode} ${login.body}`);
  return Object.fromEntries(login.cookies.map((cookie) => [cookie.name, cookie.value]));
}

export function bearer(accessToken: string): Record<string, string> {
  return { authorization: `Bearer ${accessToken}` };
}

/** The audit events of one action about one user, oldest first. */
export async function auditEventsFor(identityApp: IdentityTestApp, action: string, userId: string) {
  return identityApp.testApp.instance.services.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', action)
    .where('target_id', '=', userId)
    .orderBy('created_at')
    .execute();
}
