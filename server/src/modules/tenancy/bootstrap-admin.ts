import { randomUUID } from 'node:crypto';
import { keyScopes, type KeyService } from '../keys/index.ts';
import type { UserRepository } from './user-repository.ts';

export interface BootstrapResult {
  created: boolean;
  /** Present only when a key was generated now: it is shown once and never stored in plaintext. */
  generatedSecret?: string;
}

/**
 * On the first start with an empty database: create the platform admin, a default organization they own, and a
 * first key with every scope (gateway and management), either the operator's AIHUB_BOOTSTRAP_KEY or a fresh one
 * printed once.
 */
export async function bootstrapAdmin(
  users: UserRepository,
  keys: KeyService,
  bootstrapKey: string | undefined,
  now = Date.now(),
): Promise<BootstrapResult> {
  if ((await users.count()) > 0) return { created: false };
  const userId = randomUUID();
  await users.insert({
    id: userId,
    email: 'admin@localhost',
    name: 'Administrator',
    role: 'admin',
    created_at: now,
    updated_at: now,
  });
  const orgId = await users.createOrganizationWithOwner('Default organization', userId, now);
  const { secret } = await keys.create({
    name: 'bootstrap',
    userId,
    orgId,
    scopes: keyScopes,
    ...(bootstrapKey ? { secret: bootstrapKey } : {}),
  });
  return bootstrapKey ? { created: true } : { created: true, generatedSecret: secret };
}
