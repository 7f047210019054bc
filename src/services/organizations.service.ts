/**
 * Organizations and their members (issue 16). Who may do what with an organization's objects is
 * decided in ownership.ts from the caller's memberships; this service changes those memberships.
 * Every change of an account's memberships invalidates `membership:<account>`, so the
 * authentication cache (AuthService.membershipsOf) reads them again on the account's next request.
 */
import type { InvalidationBus } from '../db/invalidation';
import type { Db, Tx } from '../db/knex';
import { newId } from '../db/ids';
import type { OrganizationRole } from '../db/tables';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { findAccountByEmail, findAccountById } from '../repositories/accounts.repository';
import {
  deleteMemberRow,
  findMemberRow,
  findOrganization,
  insertMember,
  insertOrganization,
  listMemberRoles,
  listMemberRows,
  listOrganizationRows,
  updateMemberRole,
  updateOrganizationRow,
  type MemberWithAccount,
  type OrganizationWithRole,
} from '../repositories/organizations.repository';
import type { Actor } from './actor';
import { committing } from './changes';
import { lockExistingOrganization, lockTeamOrganization } from './organization-for';
import { removeOrganization } from './organization-removal';
import { canSeeOrganization, roleAllows, roleIn } from './ownership';

export class OrganizationsService {
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {}

  /** The organization when the caller is a member (or an admin); 404 otherwise. */
  async get(actor: Actor, id: string): Promise<OrganizationWithRole> {
    const row = await findOrganization(this.db, id, actor.accountId);
    if (!row || !canSeeOrganization(actor, id)) throw new NotFoundError('Organization not found');
    // A key of one organization acts there with its own role, not its creator's.
    return { ...row, role: actor.memberships.get(id) ?? null };
  }

  /** The caller's organizations (an admin's: every one), unless a key limits the caller to one. */
  async list(actor: Actor, page: { limit: number; offset: number }) {
    const { rows, total } = await listOrganizationRows(this.db, {
      memberId: actor.accountId,
      all: actor.role === 'admin',
      ...page,
    });
    if (actor.keyOrganization === undefined) return { rows, total };
    const only = rows
      .filter((r) => r.id === actor.keyOrganization)
      .map((r) => ({ ...r, role: this.roleOf(actor, r.id) }));
    return { rows: only, total: only.length };
  }

  private roleOf(actor: Actor, id: string): OrganizationRole | null {
    return actor.memberships.get(id) ?? null;
  }

  /** A team's organization; the caller becomes its owner. */
  async create(actor: Actor, name: string): Promise<OrganizationWithRole> {
    if (actor.keyOrganization !== undefined)
      throw new ForbiddenError('A key of one organization may not create organizations');
    const id = newId('org');
    await committing(this.db, this.bus, async (tx, changed) => {
      await insertOrganization(tx, { id, name, personal_account_id: null, created_by: actor.accountId });
      await insertMember(tx, { organization_id: id, account_id: actor.accountId, role: 'owner' });
      await changed('membership', actor.accountId);
    });
    return { ...(await findOrganization(this.db, id, actor.accountId))!, role: 'owner' };
  }

  /** 404 for a non-member, 403 for a member whose role is not owner. */
  private manageable(actor: Actor, id: string, what: string): void {
    if (!canSeeOrganization(actor, id)) throw new NotFoundError('Organization not found');
    const role = roleIn(actor, id);
    if (!roleAllows(role, 'manage'))
      throw new ForbiddenError(`Only an owner of the organization may ${what}; your role is ${role}`, {
        role: role ?? null,
        required_role: 'owner',
      });
  }

  async update(actor: Actor, id: string, name: string): Promise<OrganizationWithRole> {
    this.manageable(actor, id, 'rename it');
    await committing(this.db, this.bus, async (tx) => {
      await lockExistingOrganization(tx, id);
      await updateOrganizationRow(tx, id, { name });
    });
    return this.get(actor, id);
  }

  /**
   * Deletes a team's organization with everything in it (organization-removal.ts); owners only. A
   * personal organization goes only with its account (409).
   */
  async delete(actor: Actor, id: string): Promise<void> {
    this.manageable(actor, id, 'delete it');
    await committing(this.db, this.bus, async (tx, changed) => {
      const org = await lockExistingOrganization(tx, id);
      if (org.personal_account_id !== null)
        throw new ConflictError('A personal organization is deleted only with its account', {
          reason: 'personal organization',
        });
      await removeOrganization(tx, changed, id);
    });
  }

  async members(actor: Actor, id: string, limit: number, offset: number) {
    await this.get(actor, id);
    return listMemberRows(this.db, id, limit, offset);
  }

  /** Adds an existing account (by id or email); the organization's owners only. */
  async addMember(
    actor: Actor,
    id: string,
    who: { account_id?: string; email?: string },
    role: OrganizationRole,
  ): Promise<MemberWithAccount> {
    this.manageable(actor, id, 'add members');
    if ((who.account_id === undefined) === (who.email === undefined))
      throw new ValidationError('Name the account by account_id or by email (one of them)', {
        field: who.account_id === undefined ? 'account_id' : 'email',
        reason: 'exactly one of account_id and email',
      });
    const account =
      who.account_id !== undefined
        ? await findAccountById(this.db, who.account_id)
        : await findAccountByEmail(this.db, who.email!);
    if (!account)
      throw new NotFoundError('No account with that id or email', {
        field: who.account_id !== undefined ? 'account_id' : 'email',
      });
    await committing(this.db, this.bus, async (tx, changed) => {
      await lockTeamOrganization(tx, id);
      if (!(await insertMember(tx, { organization_id: id, account_id: account.id, role })))
        throw new ConflictError('The account is a member already; change its role instead', {
          field: 'account_id',
          reason: 'already a member',
        });
      await changed('membership', account.id);
    });
    return (await findMemberRow(this.db, id, account.id))!;
  }

  async updateMember(actor: Actor, id: string, accountId: string, role: OrganizationRole): Promise<MemberWithAccount> {
    this.manageable(actor, id, "change members' roles");
    await committing(this.db, this.bus, async (tx, changed) => {
      await lockExistingOrganization(tx, id);
      await this.keepAnOwner(tx, id, accountId, role);
      if (!(await updateMemberRole(tx, id, accountId, role))) throw new NotFoundError('Member not found');
      await changed('membership', accountId);
    });
    return (await findMemberRow(this.db, id, accountId))!;
  }

  /** Owners remove anyone; any member may remove themselves (leave). Never the last owner. */
  async removeMember(actor: Actor, id: string, accountId: string): Promise<void> {
    if (!(accountId === actor.accountId && canSeeOrganization(actor, id))) this.manageable(actor, id, 'remove members');
    await committing(this.db, this.bus, async (tx, changed) => {
      await lockExistingOrganization(tx, id);
      await this.keepAnOwner(tx, id, accountId, undefined);
      if (!(await deleteMemberRow(tx, id, accountId))) throw new NotFoundError('Member not found');
      await changed('membership', accountId);
    });
  }

  /** 409 when the change (a new role, or removal: undefined) would leave the organization without an owner. */
  private async keepAnOwner(tx: Tx, id: string, accountId: string, role: OrganizationRole | undefined): Promise<void> {
    if (role === 'owner') return;
    const members = await listMemberRoles(tx, id);
    const owners = members.filter((m) => m.role === 'owner');
    if (owners.length === 1 && owners[0].account_id === accountId)
      throw new ConflictError(
        'The last owner cannot be removed or given another role: make another member owner first',
        {
          reason: 'last owner',
        },
      );
  }
}
