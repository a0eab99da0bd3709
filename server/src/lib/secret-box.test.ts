import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSecretKey, SecretBox } from './secret-box.ts';

/** Flips one bit of one base64url field of a sealed value, leaving its framing intact. */
function tamper(sealed: string, field: 'iv' | 'tag' | 'ciphertext'): string {
  const parts = sealed.split(':');
  const index = { iv: 1, tag: 2, ciphertext: 3 }[field];
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join(':');
}

describe('SecretBox', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it.each(['sk-upstream-credential', '', 'ünïcødé 🔑 and a longer text '.repeat(20)])(
    'decrypts what it encrypted: %j',
    (plaintext) => {
      const sealed = box.encrypt(plaintext, 'providers/openai');
      expect(sealed).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]*$/);
      if (plaintext) expect(sealed).not.toContain(plaintext);
      expect(box.decrypt(sealed, 'providers/openai')).toBe(plaintext);
    },
  );

  it('seals the same plaintext differently each time', () => {
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it.each(['iv', 'tag', 'ciphertext'] as const)('detects a tampered %s', (field) => {
    const sealed = box.encrypt('sk-upstream-credential', 'aad');
    expect(() => box.decrypt(tamper(sealed, field), 'aad')).toThrow();
  });

  it('refuses a sealed value presented with other associated data', () => {
    const sealed = box.encrypt('sk-upstream-credential', 'providers/a');
    expect(() => box.decrypt(sealed, 'providers/b')).toThrow();
    expect(() => box.decrypt(sealed)).toThrow();
  });

  it('refuses to open with another key', () => {
    const sealed = box.encrypt('sk-upstream-credential');
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed)).toThrow();
  });

  it.each(['plaintext', 'v2:a:b:c', 'v1:only-two'])('rejects %j as not a sealed secret', (text) => {
    expect(() => box.decrypt(text)).toThrow('not a sealed secret');
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('32 bytes');
  });
});

describe('parseSecretKey', () => {
  const key = randomBytes(32);

  it('reads 64 hex characters in either case', () => {
    expect(parseSecretKey(key.toString('hex'))).toEqual(key);
    expect(parseSecretKey(key.toString('hex').toUpperCase())).toEqual(key);
  });

  it('reads base64 and base64url, ignoring surrounding whitespace such as a trailing newline', () => {
    expect(parseSecretKey(key.toString('base64'))).toEqual(key);
    expect(parseSecretKey(key.toString('base64url'))).toEqual(key);
    expect(parseSecretKey(`  ${key.toString('hex')}\n`)).toEqual(key);
  });

  it.each([
    ['16 bytes of hex', randomBytes(16).toString('hex')],
    ['33 bytes of base64', randomBytes(33).toString('base64')],
    ['an empty string', ''],
  ])('rejects %s', (_description, text) => {
    expect(() => parseSecretKey(text)).toThrow('must be 32 bytes');
  });
});
