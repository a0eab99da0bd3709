import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, InvitationsTable } from '../../db/schema.ts';
import type { OrgScope } from './authorizer.ts';
import { containsCondition, pageQuery, type ListWindow } from '../shared/index.ts';

export type InvitationRow = Selectable<InvitationsTable>;
export interface InvitationWithNames extends InvitationRow {
  readonly org_name: string;
  readonly team_name: string | null;
}
export type InvitationStatus = 'pending' | 'accepted' | 'declined' | 'revoked' | 'expired';
export const invitationStatuses = [
  'pending',
  'accepted',
  'declined',
  'revoked',
  'expired',
] as const satisfies readonly InvitationStatus[];

export const invitationSortFields = ['created_at', 'expires_at', 'email'] as const;
export type InvitationSortField = (typeof invitationSortFields)[number];

export interface InvitationFilters {
  readonly status?: InvitationStatus | undefined;
  /** Email contains (case-insensitive). */
  readonly q?: string | undefined;
}

export function invitationStatus(row: InvitationRow, now: number): InvitationStatus {
  if (row.accepted_at !== null) return 'accepted';
  if (row.declined_at !== null) return 'declined';
  if (row.revoked_at !== null) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

type InvitationExpressions = ExpressionBuilder<DatabaseSchema, 'invitations'>;

function unanswered(eb: InvitationExpressions) {
  return eb.and([eb('accepted_at', 'is', null), eb('declined_at', 'is', null), eb('revoked_at', 'is', null)]);
}

/** The SQL form of `invitationStatus`, for filtering lists. */
function statusCondition(status: InvitationStatus, now: number) {
  return (eb: InvitationExpressions) => {
    switch (status) {
      case 'accepted':
        return eb('accepted_at', 'is not', null);
      case 'declined':
        return eb('declined_at', 'is not', null);
      case 'revoked':
        return eb('revoked_at', 'is not', null);
      case 'pending':
        return eb.and([unanswered(eb), eb('expires_at', '>', now)]);
      case 'expired':
        return eb.and([unanswered(eb), eb('expires_at', '<=', now)]);
    }
  };
}

/**
 * SQL for invitations. Everything an organization does with them takes its scope; the one unscoped read is the
 * lookup by token hash, because the token itself is the credential of someone who is not yet a member.
 */
export class InvitationRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  list(
    scope: OrgScope,
    filters: InvitationFilters,
    window: ListWindow<InvitationSortField>,
    now: number,
  ): Promise<InvitationRow[]> {
    let query = this.#db.selectFrom('invitations').selectAll().where('org_id', '=', scope.orgId);
    if (filters.status) query = query.where(statusCondition(filters.status, now));
    if (filters.q) query = query.where(containsCondition('invitations.email', filters.q));
    return pageQuery(
      query,
      {
        sort: `invitations.${window.sort.field}`,
        id: 'invitations.id',
        sortType: window.sort.field === 'email' ? 'string' : 'number',
      },
      window,
    ).execute();
  }

  find(scope: OrgScope, id: string): Promise<InvitationRow | undefined> {
    return this.#db
      .selectFrom('invitations')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  findPendingForEmail(scope: OrgScope, email: string, now: number): Promise<InvitationRow | undefined> {
    return this.#db
      .selectFrom('invitations')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('email', '=', email)
      .where(statusCondition('pending', now))
      .executeTakeFirst();
  }

  /** The invitation a token stands for, with the names its invitee is shown; none once the org is deleted. */
  findByTokenHash(tokenHash: string): Promise<InvitationWithNames | undefined> {
    return this.#db
      .selectFrom('invitations')
      .innerJoin('organizations', 'organizations.id', 'invitations.org_id')
      .leftJoin('teams', (join) =>
        join.onRef('teams.id', '=', 'invitations.team_id').onRef('teams.org_id', '=', 'invitations.org_id'),
      )
      .selectAll('invitations')
      .select(['organizations.name as org_name', 'teams.name as team_name'])
      .where('invitations.token_hash', '=', tokenHash)
      .where('organizations.deleted_at', 'is', null)
      .executeTakeFirst();
  }

  /**
   * Inserts a new (pending) invitation holding its email's claim; the unique index on (org_id, pending_email) refuses
   * a second pending invitation for the same email, even from a concurrent request.
   */
  async insert(scope: OrgScope, row: Omit<InvitationRow, 'org_id' | 'pending_email'>): Promise<InvitationRow> {
    const full: InvitationRow = { ...row, org_id: scope.orgId, pending_email: row.email };
    await this.#db.insertInto('invitations').values(full).execute();
    return full;
  }

  /** Releases the claim of an invitation to `email` that expired unanswered, so a new one may be sent. */
  async releaseExpiredClaim(scope: OrgScope, email: string, now: number): Promise<void> {
    await this.#db
      .updateTable('invitations')
      .set({ pending_email: null })
      .where('org_id', '=', scope.orgId)
      .where('pending_email', '=', email)
      .where('expires_at', '<=', now)
      .execute();
  }

  /**
   * Answers a pending invitation (accept, decline or revoke) only if it is still pending at `now`; false when it
   * was answered, revoked or expired first, so two concurrent answers cannot both succeed.
   */
  async answer(
    scope: OrgScope,
    id: string,
    answer: 'accepted_at' | 'declined_at' | 'revoked_at',
    now: number,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('invitations')
      .set({ [answer]: now, pending_email: null })
      .where('org_id', '=', scope.orgId)
      .where('id', '=', id)
      .where(statusCondition('pending', now))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
