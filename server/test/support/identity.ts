import type { LightMyRequestResponse } from 'fastify';
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

  /** The token in the link of the latest email to `email` whose link goes to `path` (e.g. /reset-password). */
  tokenSentTo(email: string, path: string): string {
    const links = this.to(email)
      .flatMap((message) => message.text.match(/https?:\/\/\S+/g) ?? [])
      .map((link) => new URL(link))
      .filter((link) => link.pathname === path);
    const token = links.at(-1)?.searchParams.get('token');
    if (!token) throw new Error(`no ${path} link was emailed to ${email}`);
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
