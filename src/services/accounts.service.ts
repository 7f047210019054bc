import type { InvalidationBus } from '../db/invalidation';
import type { Db, Tx } from '../db/knex';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { newId } from '../db/ids';
import type { AccountRow } from '../db/tables';
import {
  anyAdminExists,
  deleteAccountRow,
  findAccountByEmail,
  findAccountById,
  insertAccount,
  listAccountRows,
  lockAdminIds,
  updateAccountRow,
} from '../repositories/accounts.repository';
import {
  handOverCreatedRows,
  listMemberRoles,
  listTeamOrganizationsOf,
  lockOrganization,
} from '../repositories/organizations.repository';
import type { Actor } from './actor';
import { committing, type Changed } from './changes';
import { removeOrganization } from './organization-removal';
import { personalOrganizationId, visibleOrNotFound } from './ownership';
import { hashPassword } from '../security/passwords';

const UNIQUE_VIOLATION = '23505';

export interface NewAccount {
  name: string;
  email: string;
  password: string;
  role?: 'admin' | 'user';
}

export interface AccountChanges {
  name?: string;
  email?: string;
  password?: string;
  role?: 'admin' | 'user';
}

function emailTaken(err: unknown): boolean {
  return (err as { code?: string }).code === UNIQUE_VIOLATION;
}

export class AccountsService {
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {}

  async get(actor: Actor, id: string): Promise<AccountRow> {
    return visibleOrNotFound(actor, await this.findWithOwner(id), 'Account');
  }

  async list(actor: Actor, filter: { role?: string; limit: number; offset: number }) {
    if (actor.role !== 'admin') throw new ForbiddenError('Only an admin may list accounts');
    return listAccountRows(this.db, filter);
  }

  async create(actor: Actor, input: NewAccount): Promise<AccountRow> {
    if (actor.role !== 'admin') throw new ForbiddenError('Only an admin may create accounts');
    return this.insert(input);
  }

  /** The first admin, at start-up; does nothing when an admin exists. */
  async ensureFirstAdmin(email: string, password: string): Promise<AccountRow | undefined> {
    if (await anyAdminExists(this.db)) return undefined;
    const existing = await findAccountByEmail(this.db, email);
    if (existing) return undefined;
    try {
      return await this.insert({ name: 'Administrator', email, password, role: 'admin' });
    } catch (err) {
      if (err instanceof ConflictError) return undefined; // another process made it first
      throw err;
    }
  }

  async update(actor: Actor, id: string, changes: AccountChanges): Promise<AccountRow> {
    const current = await this.get(actor, id);
    if (actor.role !== 'admin' && changes.role !== undefined && changes.role !== current.role) {
      throw new ForbiddenError('Only an admin may change a role', {
        field: 'role',
        reason: 'You cannot change your own role',
      });
    }
    if (changes.password !== undefined && current.external_id !== null) {
      // Its identity provider decides who signs in; a password here would outlive an offboarding there.
      throw new ValidationError('An account of an identity provider signs in there and has no password', {
        field: 'password',
        reason: 'external_account',
      });
    }
    const patch: Partial<AccountRow> = {};
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.email !== undefined) patch.email = changes.email;
    if (changes.password !== undefined) patch.password_hash = await hashPassword(changes.password);
    if (changes.role !== undefined) patch.role = changes.role;
    try {
      return await committing(this.db, this.bus, async (tx, changed) => {
        if (patch.role !== undefined && patch.role !== current.role) await changed('account', id);
        if (current.role === 'admin' && patch.role === 'user') {
          const admins = await lockAdminIds(tx);
          if (admins.length <= 1)
            throw new ConflictError('The last admin cannot be demoted', {
              field: 'role',
              reason: 'Make another account admin first',
            });
        }
        return updateAccountRow(tx, id, patch);
      });
    } catch (err) {
      if (emailTaken(err)) throw new ConflictError('An account with this email already exists', { field: 'email' });
      throw err;
    }
  }

  async delete(actor: Actor, id: string): Promise<void> {
    if (actor.role !== 'admin') {
      await this.get(actor, id); // another account's is 404; one's own is 403 below
      throw new ForbiddenError('Only an admin may delete accounts');
    }
    await committing(this.db, this.bus, async (tx, changed) => {
      const target = await findAccountById(tx, id);
      if (!target) throw new NotFoundError('Account not found');
      if (target.role === 'admin') {
        const admins = await lockAdminIds(tx);
        if (admins.length <= 1) throw new ConflictError('The last admin cannot be deleted');
      }
      await this.leaveTeams(tx, changed, id);
      await removeOrganization(tx, changed, personalOrganizationId(id));
      // API keys and secrets go with the row (ON DELETE CASCADE), and every process's caches of
      // them with the notification; its tokens' subject is gone, so they are refused.
      await deleteAccountRow(tx, id);
      await changed('account', id);
    });
  }

  /**
   * What an account leaves behind in teams' organizations belongs to the team: it is handed to the
   * organization's longest-standing other owner (`account_id`; `created_by`/`started_by` still name
   * the creator), and the membership goes with the account. A team it left earlier keeps what it
   * made there too. A team the account was the only member of is deleted with it. The last owner of
   * a team with other members is refused (409): someone there must be made owner first, so no
   * organization is left without one.
   */
  private async leaveTeams(tx: Tx, changed: Changed, id: string): Promise<void> {
    for (const org of await listTeamOrganizationsOf(tx, id)) {
      if (!(await lockOrganization(tx, org))) continue;
      const others = (await listMemberRoles(tx, org)).filter((m) => m.account_id !== id);
      if (others.length === 0) {
        await removeOrganization(tx, changed, org);
        continue;
      }
      const heir = others.find((m) => m.role === 'owner');
      if (!heir)
        throw new ConflictError(
          'The account is the last owner of an organization with other members: make another member owner first',
          { reason: 'last owner', organization_id: org },
        );
      await handOverCreatedRows(tx, org, id, heir.account_id);
    }
  }

  private async findWithOwner(id: string): Promise<(AccountRow & { account_id: string }) | undefined> {
    const row = await findAccountById(this.db, id);
    return row && { ...row, account_id: row.id };
  }

  private async insert(input: NewAccount): Promise<AccountRow> {
    const password_hash = await hashPassword(input.password);
    try {
      return await insertAccount(this.db, {
        id: newId('acct'),
        name: input.name,
        email: input.email,
        password_hash,
        role: input.role ?? 'user',
      });
    } catch (err) {
      if (emailTaken(err)) throw new ConflictError('An account with this email already exists', { field: 'email' });
      throw err;
    }
  }
}
