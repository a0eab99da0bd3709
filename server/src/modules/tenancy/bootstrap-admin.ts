import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import { keyScopes, type KeyService } from '../keys/index.ts';
import { UserRepository } from '../users/index.ts';
import { defaultOrgSettings, serializeOrgSettings } from './org-settings.ts';
import { OrganizationRepository } from './organization-repository.ts';

export interface BootstrapResult {
  created: boolean;
  /** Present only when a key was generated now: it is shown once and never stored in plaintext. */
  generatedSecret?: string;
}

/**
 * Creates an organization owned by `ownerUserId` on the operator's behalf (bootstrap, tests), with the default
 * settings an organization made through the API gets; returns its id. No actor, so no audit event.
 */
export async function createOrganizationAsOperator(
  db: Database,
  name: string,
  ownerUserId: string,
  now = Date.now(),
): Promise<string> {
  const orgId = `org_${randomUUID().replaceAll('-', '')}`;
  await db.transaction().execute(async (transaction) => {
    await new OrganizationRepository(transaction).createWithOwner({
      id: orgId,
      name,
      settings: serializeOrgSettings(defaultOrgSettings),
      ownerUserId,
      now,
    });
  });
  return orgId;
}

/**
 * On the first start with an empty database: create the platform admin, a default organization they own, and a
 * first key with every scope (gateway and management), either the operator's AIHUB_BOOTSTRAP_KEY or a fresh one
 * printed once.
 */
export async function bootstrapAdmin(
  db: Database,
  keys: KeyService,
  bootstrapKey: string | undefined,
  now = Date.now(),
): Promise<BootstrapResult> {
  const users = new UserRepository(db);
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
  const orgId = await createOrganizationAsOperator(db, 'Default organization', userId, now);
  const { secret } = await keys.create({
    name: 'bootstrap',
    userId,
    orgId,
    scopes: keyScopes,
    ...(bootstrapKey ? { secret: bootstrapKey } : {}),
  });
  return bootstrapKey ? { created: true } : { created: true, generatedSecret: secret };
}
