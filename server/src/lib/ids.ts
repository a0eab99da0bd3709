import { randomUUID } from 'node:crypto';

/**
 * Time-ordered id (UUIDv7 layout) so usage rows sort by creation and index well. The random bits come from
 * randomUUID, which draws from a pre-filled entropy cache; randomBytes would cost a system call per id on the hot path.
 */
export function newTimeOrderedId(now = Date.now()): string {
  const random = randomUUID();
  const time = now.toString(16).padStart(12, '0');
  // random: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx (V is already the RFC 4122 variant); replace the version with 7.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19, 23)}-${random.slice(24)}`;
}

export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}
