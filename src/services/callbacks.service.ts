/**
 * 000's callbacks: an external service answers a waiting `callback` node through its one-time
 * URL. The token is the only credential (no account is authenticated); only its hash is stored.
 */
import type { Db } from '../db/knex';
import { inTransaction } from '../db/transaction';
import { callbackTokenHash } from '../engine/nodes/callback';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { isCallbackUsed, lockCallbackWaiter, markCallbackUsed } from '../repositories/executions.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import { endWait, type WaitingFor } from './waiting';

export class CallbacksService {
  constructor(private readonly db: Db) {}

  async call(token: string, outcome: string | undefined, output: unknown): Promise<{ execution_id: string }> {
    const hash = callbackTokenHash(token);
    const id = await inTransaction(this.db, async (tx) => {
      const ex = await lockCallbackWaiter(tx, hash);
      if (!ex) return undefined;
      const waiting = ex.waiting_for as WaitingFor;
      const chosen = outcome ?? 'default';
      const names = (waiting.outcomes ?? []).map((o) => o.name);
      if (!names.includes(chosen))
        throw new ValidationError(`"${chosen}" is not an outcome of this callback`, {
          field: 'outcome',
          reason: `one of ${names.join(', ')}`,
        });
      if (!(await markCallbackUsed(tx, hash, ex.id))) return undefined;
      const nodeId = waiting.node_id!;
      await endWait(tx, ex.id, { status: 'running' });
      await appendEvents(tx, ex.id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Callback received (outcome ${chosen})`,
            node_id: nodeId,
            node_type: 'callback',
            data: { outcome: chosen },
          },
        },
      ]);
      await deleteExecutionTasks(tx, ex.id);
      await insertTask(tx, {
        execution_id: ex.id,
        node_id: nodeId,
        state: { callback: { outcome: chosen, output: output ?? null } },
      });
      return ex.id;
    });
    if (id) return { execution_id: id };
    if (await isCallbackUsed(this.db, hash)) throw new ConflictError('This callback URL has already been used');
    throw new NotFoundError('Callback not found');
  }
}
