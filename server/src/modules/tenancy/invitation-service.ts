import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import type { OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { conflictOnDuplicate } from '../../db/unique-violation.ts';
import type { Actor, Authorizer, OrgScope } from './authorizer.ts';
import {
  InvitationRepository,
  invitationStatus,
  type InvitationFilters,
  type InvitationRow,
  type InvitationSortField,
  type InvitationStatus,
  type InvitationWithNames,
} from './invitation-repository.ts';
import type { ListWindow } from '../shared/index.ts';
import { MemberRepository } from './member-repository.ts';
import { TeamRepository } from './team-repository.ts';
import { UserRepository } from '../users/index.ts';

const defaultInvitationDays = 7;
export const maxInvitationDays = 30;
const dayMs = 86_400_000;

export interface InvitationInput {
  readonly email: string;
  readonly role: OrgRole;
  readonly teamId?: string | null | undefined;
  readonly expiresInDays?: number | undefined;
}

/** A new invitation and its token: the only time the token exists outside the invitee's link. */
export interface CreatedInvitation {
  readonly invitation: InvitationRow;
  readonly token: string;
}

/** What someone holding the link is shown before they sign in or answer. */
export interface InvitationLookup {
  readonly invitation: InvitationWithNames;
  readonly status: InvitationStatus;
}

export interface AcceptedInvitation {
  readonly orgId: string;
  readonly orgName: string;
  readonly role: OrgRole;
  /** The team joined with the organization, or null (none asked, or the team was deleted since). */
  readonly teamId: string | null;
}

/**
 * Invitations by link. The token is 32 random bytes shown once; only its sha256 is stored, so the table alone
 * cannot be used to join an organization. An invitation is answered once: accepted, declined or revoked; after
 * that, or after it expires, every answer is 410.
 */
export class InvitationService {
  readonly #db: Database;
  readonly #authorizer: Authorizer;

  constructor(db: Database, authorizer: Authorizer) {
    this.#db = db;
    this.#authorizer = authorizer;
  }

  list(scope: OrgScope, filters: InvitationFilters, window: ListWindow<InvitationSortField>): Promise<InvitationRow[]> {
    return new InvitationRepository(this.#db).list(scope, filters, window, Date.now());
  }

  async create(scope: OrgScope, input: InvitationInput): Promise<CreatedInvitation> {
    this.#authorizer.authorizeRoleChange(scope, { to: input.role });
    const now = Date.now();
    const email = input.email.trim().toLowerCase();
    const token = randomBytes(32).toString('base64url');
    const alreadyPending = 'this email already has a pending invitation; revoke it to send a new one';
    const created = this.#db.transaction().execute(async (transaction) => {
      const invitations = new InvitationRepository(transaction);
      if (input.teamId && !(await new TeamRepository(transaction).find(scope, input.teamId))) {
        throw new AppError('unprocessable', 'team_id is not a team of this organization', { param: 'team_id' });
      }
      if (await new MemberRepository(transaction).hasMemberWithEmail(scope, email)) {
        throw new AppError('conflict', 'someone with this email is already a member');
      }
      if (await invitations.findPendingForEmail(scope, email, now)) throw new AppError('conflict', alreadyPending);
      await invitations.releaseExpiredClaim(scope, email, now);
      const invitation = await invitations.insert(scope, {
        id: `inv_${randomUUID().replaceAll('-', '')}`,
        email,
        role: input.role,
        team_id: input.teamId ?? null,
        token_hash: hashInvitationToken(token),
        invited_by: scope.actor.userId,
        expires_at: now + (input.expiresInDays ?? defaultInvitationDays) * dayMs,
        accepted_at: null,
        declined_at: null,
        revoked_at: null,
        created_at: now,
      });
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'invitation.create',
          targetType: 'invitation',
          targetId: invitation.id,
          after: invitationSnapshot(invitation, now),
        },
        now,
      );
      return { invitation, token };
    });
    // A concurrent invitation for the same email that committed first holds the claim: the same 409.
    return conflictOnDuplicate(created, alreadyPending);
  }

  async revoke(scope: OrgScope, invitationId: string): Promise<void> {
    const now = Date.now();
    await this.#db.transaction().execute(async (transaction) => {
      const invitations = new InvitationRepository(transaction);
      const invitation = await invitations.find(scope, invitationId);
      if (!invitation) throw new AppError('not_found', 'invitation not found');
      if (!(await invitations.answer(scope, invitationId, 'revoked_at', now))) throw goneError(invitation, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'invitation.revoke',
          targetType: 'invitation',
          targetId: invitationId,
          before: invitationSnapshot(invitation, now),
          after: invitationSnapshot({ ...invitation, revoked_at: now }, now),
        },
        now,
      );
    });
  }

  /** Public: what a link stands for. Unknown tokens (and deleted organizations) are 404. */
  async lookup(token: string): Promise<InvitationLookup> {
    const invitation = await this.#find(token);
    return { invitation, status: invitationStatus(invitation, Date.now()) };
  }

  /**
   * Joins the organization (and the invitation's team, if it still exists) in one transaction with marking the
   * invitation accepted, so a failure leaves neither.
   */
  async accept(actor: Actor, token: string): Promise<AcceptedInvitation> {
    const { invitation, scope, now } = await this.#authorizeAnswer(actor, token);
    return conflictOnDuplicate(
      this.#db.transaction().execute(async (transaction) => {
        const invitations = new InvitationRepository(transaction);
        const members = new MemberRepository(transaction);
        if (await members.find(scope, actor.userId)) {
          throw new AppError('conflict', 'you are already a member of this organization');
        }
        if (!(await invitations.answer(scope, invitation.id, 'accepted_at', now))) throw goneError(invitation, now);
        await members.insert(scope, actor.userId, invitation.role, now);
        const teams = new TeamRepository(transaction);
        const team = invitation.team_id === null ? undefined : await teams.find(scope, invitation.team_id);
        if (team) await teams.insertMember(scope, team.id, actor.userId, 'member', now);
        await recordAuditEvent(
          transaction,
          {
            orgId: scope.orgId,
            actor,
            action: 'invitation.accept',
            targetType: 'invitation',
            targetId: invitation.id,
            before: invitationSnapshot(invitation, now),
            after: {
              ...invitationSnapshot({ ...invitation, accepted_at: now }, now),
              member: { user_id: actor.userId, role: invitation.role, team_id: team?.id ?? null },
            },
          },
          now,
        );
        return { orgId: scope.orgId, orgName: invitation.org_name, role: invitation.role, teamId: team?.id ?? null };
      }),
      'you are already a member of this organization',
    );
  }

  async decline(actor: Actor, token: string): Promise<void> {
    const { invitation, scope, now } = await this.#authorizeAnswer(actor, token);
    await this.#db.transaction().execute(async (transaction) => {
      const invitations = new InvitationRepository(transaction);
      if (!(await invitations.answer(scope, invitation.id, 'declined_at', now))) throw goneError(invitation, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor,
          action: 'invitation.decline',
          targetType: 'invitation',
          targetId: invitation.id,
          before: invitationSnapshot(invitation, now),
          after: invitationSnapshot({ ...invitation, declined_at: now }, now),
        },
        now,
      );
    });
  }

  /** The pending invitation behind a link, and the invitee's scope in its organization: what accept and decline share. */
  async #authorizeAnswer(
    actor: Actor,
    token: string,
  ): Promise<{ invitation: InvitationWithNames; scope: OrgScope; now: number }> {
    const invitation = await this.#find(token);
    const now = Date.now();
    if (invitationStatus(invitation, now) !== 'pending') throw goneError(invitation, now);
    const scope = await this.#authorizer.authorizeInvitee(actor, await this.#emailOf(actor), {
      orgId: invitation.org_id,
      email: invitation.email,
      role: invitation.role,
    });
    return { invitation, scope, now };
  }

  async #find(token: string): Promise<InvitationWithNames> {
    const invitation = await new InvitationRepository(this.#db).findByTokenHash(hashInvitationToken(token));
    if (!invitation) throw new AppError('not_found', 'invitation not found');
    return invitation;
  }

  async #emailOf(actor: Actor): Promise<string> {
    const user = await new UserRepository(this.#db).findById(actor.userId);
    if (!user) throw new AppError('unauthenticated', 'this account no longer exists');
    return user.email;
  }
}

/** Tokens are unguessable random bytes, so a fast hash is enough: there is nothing to brute-force. */
function hashInvitationToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function goneError(invitation: InvitationRow, now: number): AppError {
  const status = invitationStatus(invitation, now);
  const reason = status === 'pending' ? 'was answered a moment ago' : `is ${status}`;
  return new AppError('gone', `this invitation ${reason} and can no longer be used`);
}

function invitationSnapshot(invitation: InvitationRow, now: number): Record<string, unknown> {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    team_id: invitation.team_id,
    expires_at: invitation.expires_at,
    status: invitationStatus(invitation, now),
  };
}
