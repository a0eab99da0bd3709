import { AppError } from '../../errors/app-error.ts';

/** Addresses are compared trimmed and lowercased, so `Ada@Example.com ` and `ada@example.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// Deliberately loose (the only real check is a delivered email): one @, no spaces, a non-empty local part of at most
// 64 characters and a domain of dot-separated labels. Single-label domains are allowed for `admin@localhost`.
const emailPattern = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)*$/;

/** Normalizes and validates an address given at registration; 400 naming `param` when it cannot be an address. */
export function parseEmail(email: string, param = 'email'): string {
  const normalized = normalizeEmail(email);
  if (normalized.length > 254 || !emailPattern.test(normalized)) {
    throw new AppError('invalid_request', `${param} is not a valid email address`, { param });
  }
  return normalized;
}

export function emailLocalPart(email: string): string {
  return email.slice(0, Math.max(0, email.lastIndexOf('@')));
}
