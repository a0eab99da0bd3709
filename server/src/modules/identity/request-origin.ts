import type { Actor } from '../shared/index.ts';

/** Where a request came from, for sessions and audit events. */
export interface RequestOrigin {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

/**
 * The account holder as the actor of an audit event on a public route (registration, reset link, verification
 * link): nobody is signed in, but the person acting is the owner of that account.
 */
export function accountHolderActor(account: { id: string; role: 'admin' | 'member' }, origin: RequestOrigin): Actor {
  return {
    userId: account.id,
    platformRole: account.role,
    via: 'session',
    ...(origin.ip === undefined ? {} : { ip: origin.ip }),
    ...(origin.requestId === undefined ? {} : { requestId: origin.requestId }),
  };
}
