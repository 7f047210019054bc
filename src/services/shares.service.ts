/** Sharing an execution with other accounts; only those who manage it may. */
import type { Db } from '../db/knex';
import { ConflictError, NotFoundError } from '../errors';
import { findAccountById } from '../repositories/accounts.repository';
import { deleteShare, insertShare, listShareRows } from '../repositories/shares.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';

export class SharesService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async list(actor: Actor, id: string) {
    await this.executions.manage(actor, id, 'see who it is shared with', 'read');
    return listShareRows(this.db, id);
  }

  async add(actor: Actor, id: string, accountId: string) {
    const ex = await this.executions.manage(actor, id, 'share it', 'edit');
    const account = await findAccountById(this.db, accountId);
    if (!account) throw new NotFoundError('Account not found');
    if (accountId === ex.account_id)
      throw new ConflictError('The owner already sees this execution', { field: 'account_id' });
    const created = await insertShare(this.db, { execution_id: id, account_id: accountId, shared_by: actor.accountId });
    if (!created) throw new ConflictError('The execution is already shared with this account', { field: 'account_id' });
    return { ...created, email: account.email, name: account.name };
  }

  async remove(actor: Actor, id: string, accountId: string): Promise<void> {
    await this.executions.manage(actor, id, 'stop sharing it', 'edit');
    if (!(await deleteShare(this.db, id, accountId)))
      throw new NotFoundError('The execution is not shared with this account');
  }
}
