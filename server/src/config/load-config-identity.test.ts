import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.ts';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-config-identity-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function load(environment: Record<string, string> = {}, file?: unknown) {
  return loadConfig({
    environment: { AIHUB_DATA_DIR: dataDir, ...environment },
    ...(file === undefined ? {} : { overrides: { file } }),
  });
}

function fieldOfError(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error.field;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('identity configuration', () => {
  it('defaults to invite-only registration, log mail, 15-minute access and 30-day refresh tokens, scrypt 2^15', () => {
    expect(load().identity).toEqual({
      registration: 'invite',
      publicUrl: 'http://127.0.0.1:8080',
      smtpUrl: undefined,
      emailFrom: 'AI Hub <no-reply@127.0.0.1>',
      requireEmailVerification: false,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 2_592_000,
      passwordHashCost: 15,
    });
  });

  it('reads every AIHUB_ identity variable', () => {
    const identity = load({
      AIHUB_REGISTRATION: 'open',
      AIHUB_PUBLIC_URL: 'https://hub.example.com/',
      AIHUB_SMTP_URL: 'smtps://mailer:secret@smtp.example.com:465',
      AIHUB_EMAIL_FROM: 'Hub <hub@example.com>',
      AIHUB_REQUIRE_EMAIL_VERIFICATION: 'true',
      AIHUB_ACCESS_TOKEN_TTL_SECONDS: '300',
      AIHUB_REFRESH_TOKEN_TTL_SECONDS: '86400',
      AIHUB_PASSWORD_HASH_COST: '16',
    }).identity;
    expect(identity).toEqual({
      registration: 'open',
      publicUrl: 'https://hub.example.com',
      smtpUrl: 'smtps://mailer:secret@smtp.example.com:465',
      emailFrom: 'Hub <hub@example.com>',
      requireEmailVerification: true,
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 86_400,
      passwordHashCost: 16,
    });
  });

  it('points links at localhost when listening on every interface, and names the email domain after the URL', () => {
    const identity = load({ AIHUB_HOST: '0.0.0.0', AIHUB_PORT: '9000' }).identity;
    expect(identity.publicUrl).toBe('http://localhost:9000');
    expect(load({ AIHUB_PUBLIC_URL: 'https://ai.corp.example' }).identity.emailFrom).toBe(
      'AI Hub <no-reply@ai.corp.example>',
    );
  });

  it('takes settings from the file, with the environment winning', () => {
    const file = {
      identity: { registration: 'closed', require_email_verification: true, public_url: 'https://a.example' },
    };
    expect(load({}, file).identity).toMatchObject({
      registration: 'closed',
      requireEmailVerification: true,
      publicUrl: 'https://a.example',
    });
    expect(load({ AIHUB_REGISTRATION: 'open' }, file).identity.registration).toBe('open');
  });

  it.each([
    ['AIHUB_REGISTRATION', 'public'],
    ['AIHUB_PUBLIC_URL', 'hub.example.com'],
    ['AIHUB_PUBLIC_URL', 'ftp://hub.example.com'],
    ['AIHUB_SMTP_URL', 'http://smtp.example.com'],
    ['AIHUB_REQUIRE_EMAIL_VERIFICATION', 'maybe'],
    ['AIHUB_ACCESS_TOKEN_TTL_SECONDS', '5'],
    ['AIHUB_REFRESH_TOKEN_TTL_SECONDS', 'forever'],
    ['AIHUB_PASSWORD_HASH_COST', '8'],
  ])('names %s when it is invalid (%s)', (name, value) => {
    expect(fieldOfError(() => load({ [name]: value }))).toBe(name);
  });

  it('refuses an SMTP URL in the file (it holds a password)', () => {
    expect(fieldOfError(() => load({}, { identity: { smtp_url: 'smtp://x' } }))).toContain('identity');
  });
});
