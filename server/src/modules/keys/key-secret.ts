import { createHash, randomBytes } from 'node:crypto';

export const keyPrefix = 'sk-aihub-';

/** 32 random bytes: a key is unguessable, so a fast hash is enough to store it (no password stretching needed). */
export function generateKeySecret(): string {
  return keyPrefix + randomBytes(32).toString('base64url');
}

export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** What listings show of a key: enough to recognise it, far too little to use it. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, keyPrefix.length + 6);
}
