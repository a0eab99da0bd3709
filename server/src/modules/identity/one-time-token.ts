import { createHash, randomBytes } from 'node:crypto';

/**
 * Refresh tokens, reset and verification links carry 32 random bytes; only their sha256 (base64url) is stored. The
 * token is unguessable, so a fast hash is enough: nothing to brute-force, unlike a password.
 */
export function generateOpaqueToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOpaqueToken(token) };
}

export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
