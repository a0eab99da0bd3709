import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A device that has signed in to an account before: it holds a token an attacker elsewhere cannot make, so a flood
 * of wrong passwords for that account from other places does not lock it out (see docs/identity.md, throttling).
 * The token is a random nonce and an HMAC of (account id, nonce) under a key derived from the server secret; it
 * proves only "this browser signed in to this account once", and grants nothing by itself.
 */
export const deviceCookie = 'aihub_device';
export const deviceCookieMaxAgeSeconds = 365 * 86_400;

function signature(secretKey: Buffer, userId: string, nonce: string): string {
  const key = createHmac('sha256', secretKey).update('aihub/known-device/v1').digest();
  return createHmac('sha256', key).update(`${userId}.${nonce}`).digest('base64url');
}

export function deviceTokenFor(secretKey: Buffer, userId: string): string {
  const nonce = randomBytes(16).toString('base64url');
  return `${nonce}.${signature(secretKey, userId, nonce)}`;
}

export function isDeviceTokenOf(secretKey: Buffer, token: string | undefined, userId: string): boolean {
  if (token === undefined || token.length > 256) return false;
  const [nonce, presented, ...rest] = token.split('.');
  if (nonce === undefined || presented === undefined || rest.length > 0) return false;
  const expected = Buffer.from(signature(secretKey, userId, nonce));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
