import { describe, expect, it } from 'vitest';
import { LogMailer, SmtpMailer, createMailer } from '../../src/modules/identity/index.ts';
import { useIdentityTestApp, testIdentity } from '../support/identity.ts';

describe('auth routes in the OpenAPI document', () => {
  const identityApp = useIdentityTestApp('sqlite');

  it('describes every auth route under the auth tag, public ones without security', async () => {
    const response = await identityApp.testApp.instance.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(response.statusCode).toBe(200);
    const paths = response.json<{ paths: Record<string, { post?: { tags?: string[]; security?: unknown[] } }> }>()
      .paths;
    const routes = [
      ['/api/v1/auth/register', true],
      ['/api/v1/auth/login', true],
      ['/api/v1/auth/refresh', true],
      ['/api/v1/auth/logout', false],
      ['/api/v1/auth/logout-all', false],
      ['/api/v1/auth/password/change', false],
      ['/api/v1/auth/password/reset-request', true],
      ['/api/v1/auth/password/reset', true],
      ['/api/v1/auth/email/verify-request', false],
      ['/api/v1/auth/email/verify', true],
    ] as const;
    for (const [path, isPublic] of routes) {
      const operation = paths[path]?.post;
      expect(operation?.tags, path).toEqual(['auth']);
      if (isPublic) expect(operation?.security, path).toEqual([]);
      else expect(operation?.security, path).toBeUndefined();
    }
  });
});

describe('mailer selection', () => {
  it('logs messages at info level when no SMTP URL is set, and uses SMTP when it is', () => {
    const logged: unknown[][] = [];
    const log = {
      info: (...values: unknown[]) => {
        logged.push(values);
      },
    };
    const development = createMailer(testIdentity, log);
    expect(development).toBeInstanceOf(LogMailer);
    const production = createMailer({ ...testIdentity, smtpUrl: 'smtp://user:pass@127.0.0.1:2525' }, log);
    expect(production).toBeInstanceOf(SmtpMailer);
    production.close();
  });

  it('writes the message (its link is the only secret in it) to the log', async () => {
    const logged: unknown[][] = [];
    const mailer = new LogMailer({
      info: (...values: unknown[]) => {
        logged.push(values);
      },
    });
    await mailer.send({ to: 'a@example.com', subject: 'Reset', text: 'http://hub.test/reset-password?token=abc' });
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain('reset-password?token=abc');
  });
});
