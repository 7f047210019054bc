/**
 * 000's navigation: a definition's `navigation: [{label, node}]` lists places a waiting execution
 * may be moved to; moving is recorded as a step with who did it, and the execution goes on there.
 */
import type { Db } from '../db/knex';
import { inTransaction } from '../db/transaction';
import type { ExecutionRow } from '../db/tables';
import { ConflictError, ValidationError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { lockExecution } from '../repositories/executions.repository';
import { insertStep } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { endWait, type WaitingFor } from './waiting';

export interface NavigationItem {
  label: string;
  node: string;
  enabled: boolean;
}

/** A wait one may move away from: a node's own wait, not a flow approval nor a running child. */
function movable(ex: ExecutionRow): boolean {
  const w = ex.waiting_for as WaitingFor | null;
  return ex.status === 'waiting' && !!w && w.node_id !== null && w.kind !== 'subflow';
}

export class NavigationService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async list(actor: Actor, id: string): Promise<NavigationItem[]> {
    const ex = await this.executions.get(actor, id);
    const document = await this.executions.pinnedDocument(ex);
    const here = (ex.waiting_for as WaitingFor | null)?.node_id ?? null;
    return (document.navigation ?? []).map((n) => ({
      label: n.label,
      node: n.node,
      enabled: movable(ex) && n.node !== here,
    }));
  }

  async navigate(actor: Actor, id: string, node: string): Promise<ExecutionRow> {
    const visible = await this.executions.answerable(actor, id);
    const document = await this.executions.pinnedDocument(visible);
    const item = (document.navigation ?? []).find((n) => n.node === node);
    if (!item)
      throw new ValidationError(`"${node}" is not a navigation target of this flow`, {
        field: 'node',
        reason: `one of ${(document.navigation ?? []).map((n) => n.node).join(', ') || '(none)'}`,
      });
    await inTransaction(this.db, async (tx) => {
      const ex = (await lockExecution(tx, id))!;
      if (!movable(ex))
        throw new ConflictError(`Only an execution waiting at a node can be moved (status ${ex.status})`, {
          reason: `status is ${ex.status}`,
        });
      const from = (ex.waiting_for as WaitingFor).node_id!;
      const now = new Date();
      await insertStep(tx, {
        execution_id: id,
        node_id: from,
        node_type: 'navigation',
        attempt: 1,
        status: 'completed',
        input: null,
        output: { to: node, label: item.label, actor_id: actor.accountId },
        error: null,
        actor_id: actor.accountId,
        started_at: now,
        completed_at: now,
      });
      await endWait(tx, id, { status: 'running', current_node: node });
      await appendEvents(tx, id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Moved from "${from}" to "${node}" (${item.label}) by ${actor.accountId}`,
            node_id: from,
            node_type: null,
            data: { from, to: node, actor_id: actor.accountId },
          },
        },
      ]);
      await deleteExecutionTasks(tx, id);
      await insertTask(tx, { execution_id: id, node_id: node });
    });
    return this.executions.get(actor, id);
  }
}
