/**
 * 000's events: a posted event resumes the executions that wait for it in the organizations where
 * the caller may run executions (runner or higher, like answering a wait; an admin, everywhere).
 */
import type { Db } from '../db/knex';
import { inTransaction } from '../db/transaction';
import { appendEvents } from '../repositories/events.repository';
import { findEventWaiters, lockExecution } from '../repositories/executions.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import { organizationsWhere } from './ownership';
import { endWait, type WaitingFor } from './waiting';

export interface InboundEvent {
  name: string;
  correlation: string;
  payload?: unknown;
}

export class InboundEventsService {
  constructor(private readonly db: Db) {}

  /** Each waiter is resumed in a transaction of its own, rechecked under its lock (a cancel may win). */
  async post(actor: Actor, e: InboundEvent): Promise<string[]> {
    const resumed: string[] = [];
    for (const id of await findEventWaiters(this.db, organizationsWhere(actor, 'run'), e.name, e.correlation)) {
      const done = await inTransaction(this.db, async (tx) => {
        const ex = await lockExecution(tx, id);
        const waiting = ex?.waiting_for as WaitingFor | null | undefined;
        if (
          !ex ||
          ex.status !== 'waiting' ||
          waiting?.kind !== 'event' ||
          waiting.event?.name !== e.name ||
          waiting.event?.correlation !== e.correlation
        )
          return false;
        const nodeId = waiting.node_id!;
        await endWait(tx, id, { status: 'running' });
        await appendEvents(tx, id, [
          {
            type: 'log',
            level: 'info',
            payload: {
              level: 'info',
              message: `Event "${e.name}" (${e.correlation}) posted by ${actor.accountId}`,
              node_id: nodeId,
              node_type: 'event',
              data: { name: e.name, correlation: e.correlation, actor_id: actor.accountId },
            },
          },
        ]);
        await deleteExecutionTasks(tx, id);
        await insertTask(tx, {
          execution_id: id,
          node_id: nodeId,
          state: { event: { name: e.name, correlation: e.correlation, payload: e.payload ?? null } },
        });
        return true;
      });
      if (done) resumed.push(id);
    }
    return resumed;
  }
}
