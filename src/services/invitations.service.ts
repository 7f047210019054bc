/**
 * Invitations into a team's organization (issue 16). A member who may edit (editor, owner)
 * invites an email with a role no higher than their own; the account with that email — local or
 * provisioned from an identity provider, now or later — accepts (and is a member at once: its
 * `membership:<account>` is invalidated) or declines. An invitation is pending until it is
 * answered or revoked, lasts `INVITATION_TTL_MS`, and is used at most once. Direct adds of an
 * existing account stay in OrganizationsService (owners only).
 *
 * Who the invitee is comes from the account's email, compared without case: the same trust as a
 * direct add by email. An invitation addressed to someone else is "not found" (404).
 */
import type { InvalidationBus } from '../db/invalidation';
import type { Db, Tx } from '../db/knex';
import { newId } from '../db/ids';
import type { OrganizationInvitationRow, OrganizationRole } from '../db/tables';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { findAccountByEmail, findAccountById } from '../repositories/accounts.repository';
import {
  findInvitation,
  findPendingInvitation,
  insertInvitation,
  listInvitationRowsFor,
  listPendingInvitationRows,
  lockInvitation,
  setInvitationStatus,
  type InvitationWithNames,
} from '../repositories/invitations.repository';
import {
  findMemberRow,
  insertMember,
  lockOrganization,
  type MemberWithAccount,
} from '../repositories/organizations.repository';
import type { Actor } from './actor';
import { committing } from './changes';
import { lockTeamOrganization } from './organization-for';
import { canSeeOrganization, rank, roleAllows, roleIn } from './ownership';

/** How long an invitation can be accepted: 7 days. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

type Page = { limit: number; offset: number };

export class InvitationsService {
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {}

  /**
   * The caller's role in the organization when it may invite (`edit`): 404 for a non-member,
   * 403 for a role below editor, or when `role` is above the caller's own.
   */
  private inviterRole(actor: Actor, organizationId: string, role?: OrganizationRole): OrganizationRole {
    if (!canSeeOrganization(actor, organizationId)) throw new NotFoundError('Organization not found');
    const own = roleIn(actor, organizationId)!;
    if (!roleAllows(own, 'edit'))
      throw new ForbiddenError(`Your role in this organization (${own}) may not invite; it takes editor or higher`, {
        organization_id: organizationId,
        role: own,
        required_role: 'editor',
      });
    if (role !== undefined && rank(role) > rank(own))
      throw new ForbiddenError(`You may invite with a role up to your own (${own}), not ${role}`, {
        field: 'role',
        role: own,
      });
    return own;
  }

  async create(actor: Actor, organizationId: string, email: string, role: OrganizationRole) {
    this.inviterRole(actor, organizationId, role);
    if (!/^[^\s@]+@[^\s@]+$/.test(email))
      throw new ValidationError('The email is not an email address', { field: 'email', reason: 'not an email' });
    const id = newId('inv');
    await committing(this.db, this.bus, async (tx) => {
      await lockTeamOrganization(tx, organizationId);
      const account = await findAccountByEmail(tx, email);
      if (account && (await findMemberRow(tx, organizationId, account.id)))
        throw new ConflictError('The account with this email is a member already; change its role instead', {
          field: 'email',
          reason: 'already a member',
        });
      const pending = await findPendingInvitation(tx, organizationId, email);
      if (pending && pending.expires_at.getTime() > Date.now())
        throw new ConflictError('This email has a pending invitation already; revoke it to invite again', {
          field: 'email',
          reason: 'already invited',
          invitation_id: pending.id,
        });
      // One past its time is replaced by this one.
      if (pending) await setInvitationStatus(tx, pending.id, 'expired');
      await insertInvitation(tx, {
        id,
        organization_id: organizationId,
        email,
        role,
        invited_by: actor.accountId,
        expires_at: new Date(Date.now() + INVITATION_TTL_MS),
      });
    });
    return (await findInvitation(this.db, id))!;
  }

  async list(actor: Actor, organizationId: string, page: Page) {
    this.inviterRole(actor, organizationId);
    return listPendingInvitationRows(this.db, organizationId, page.limit, page.offset);
  }

  /** Editors and owners revoke a pending invitation of a role up to their own. */
  async revoke(actor: Actor, organizationId: string, invitationId: string): Promise<void> {
    const own = this.inviterRole(actor, organizationId);
    await committing(this.db, this.bus, async (tx) => {
      const inv = await lockInvitation(tx, invitationId);
      if (!inv || inv.organization_id !== organizationId) throw new NotFoundError('Invitation not found');
      if (rank(inv.role) > rank(own))
        throw new ForbiddenError(`You may revoke invitations with a role up to your own (${own}), not ${inv.role}`, {
          role: own,
        });
      if (inv.status !== 'pending')
        throw new ConflictError(`The invitation is ${inv.status} already`, { reason: inv.status });
      await setInvitationStatus(tx, inv.id, 'revoked');
    });
  }

  /** The pending, unexpired invitations addressed to the caller's email. */
  async mine(actor: Actor, page: Page) {
    if (actor.keyOrganization !== undefined)
      throw new ForbiddenError('A key of one organization sees nothing of other organizations, invitations included');
    const email = await this.emailOf(actor);
    return listInvitationRowsFor(this.db, email, page.limit, page.offset);
  }

  async accept(actor: Actor, id: string): Promise<MemberWithAccount> {
    const inv = await this.addressedTo(actor, id, 'accept');
    await committing(this.db, this.bus, async (tx, changed) => {
      // The organization first (its deletion takes the same lock), then the invitation.
      if (!(await lockOrganization(tx, inv.organization_id))) throw new NotFoundError('Invitation not found');
      const current = await this.answerable(tx, id);
      if (
        !(await insertMember(tx, {
          organization_id: current.organization_id,
          account_id: actor.accountId,
          role: current.role,
        }))
      )
        throw new ConflictError('You are a member of this organization already', { reason: 'already a member' });
      await setInvitationStatus(tx, id, 'accepted');
      await changed('membership', actor.accountId);
    });
    return (await findMemberRow(this.db, inv.organization_id, actor.accountId))!;
  }

  async decline(actor: Actor, id: string): Promise<InvitationWithNames> {
    await this.addressedTo(actor, id, 'decline');
    await committing(this.db, this.bus, async (tx) => {
      await this.answerable(tx, id);
      await setInvitationStatus(tx, id, 'declined');
    });
    return (await findInvitation(this.db, id))!;
  }

  /** The invitation when it names the caller's email; 404 otherwise, so others learn nothing of it. */
  private async addressedTo(actor: Actor, id: string, what: string): Promise<InvitationWithNames> {
    if (actor.keyOrganization !== undefined)
      throw new ForbiddenError(`A key of one organization may not ${what} invitations`);
    const email = await this.emailOf(actor);
    const inv = await findInvitation(this.db, id);
    if (!inv || inv.email.toLowerCase() !== email.toLowerCase()) throw new NotFoundError('Invitation not found');
    return inv;
  }

  /** The invitation, locked, when it can still be answered; 409 with the reason otherwise. */
  private async answerable(tx: Tx, id: string): Promise<OrganizationInvitationRow> {
    const inv = await lockInvitation(tx, id);
    if (!inv) throw new NotFoundError('Invitation not found');
    if (inv.status !== 'pending')
      throw new ConflictError(`The invitation was ${inv.status} already`, { reason: inv.status });
    if (inv.expires_at.getTime() <= Date.now())
      throw new ConflictError('The invitation has expired: ask for a new one', {
        reason: 'expired',
        expires_at: inv.expires_at.toISOString(),
      });
    return inv;
  }

  private async emailOf(actor: Actor): Promise<string> {
    const account = await findAccountById(this.db, actor.accountId);
    if (!account) throw new NotFoundError('Account not found');
    return account.email;
  }
}
