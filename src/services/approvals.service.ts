/**
 * Approving or rejecting a waiting execution. The decision is validated here and handed to the
 * engine as a task for the waiting node, so its step, edge and events are recorded as for any node;
 * the flow-level approval (before any node ran) is decided here.
 */
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { cancelExecution } from '../engine/lifecycle';
import { queueEntry } from '../engine/concurrency';
import { ForbiddenError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { updateExecution } from '../repositories/executions.repository';
import { insertStep } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { endWait, lockWaiting } from './waiting';
import { inTransaction } from '../db/transaction';

const FLOW_APPROVAL_STEP = '$approval';

export class ApprovalsService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async decide(actor: Actor, id: string, decision: 'approved' | 'rejected', comment?: string): Promise<ExecutionRow> {
    await this.executions.answerable(actor, id);
    await inTransaction(this.db, async (tx) => {
      const { ex, waiting } = await lockWaiting(tx, id, 'approval');
      const approvers = waiting.approvers ?? [];
      const allowed =
        approvers.length === 0 ||
        approvers.includes(actor.accountId) ||
        (actor.role === 'admin' && approvers.includes('role:admin'));
      if (!allowed)
        throw new ForbiddenError('You are not one of the approvers of this execution', {
          reason: `approvers: ${approvers.join(', ')}`,
        });
      if (decision === 'approved' && waiting.no_self_approval && ex.started_by === actor.accountId) {
        throw new ForbiddenError('The account that started this execution may not approve it (no_self_approval)');
      }
      const verb = decision === 'approved' ? 'Approved' : 'Rejected';
      const log = {
        type: 'log' as const,
        level: 'info',
        payload: {
          level: 'info',
          message: `${verb} by ${actor.accountId}${comment ? `: ${comment}` : ''}`,
          node_id: waiting.node_id,
          node_type: 'approval',
          data: { decision, actor_id: actor.accountId, comment: comment ?? null },
        },
      };
      await deleteExecutionTasks(tx, id);
      if (waiting.node_id === null) {
        // The flow-level approval: decided here, before any node has run.
        const now = new Date();
        await insertStep(tx, {
          execution_id: id,
          node_id: FLOW_APPROVAL_STEP,
          node_type: 'approval',
          attempt: 1,
          status: 'completed',
          input: null,
          output: { decision, actor_id: actor.accountId, comment: comment ?? null },
          error: null,
          actor_id: actor.accountId,
          started_at: ex.created_at,
          completed_at: now,
        });
        await appendEvents(tx, id, [log]);
        if (decision === 'approved') {
          await endWait(tx, id, { status: 'queued', approval_status: 'approved' });
          await appendEvents(tx, id, [
            { type: 'execution_update', payload: { status: 'queued', node_id: null, node_type: null } },
          ]);
          const document = await this.executions.pinnedDocument(ex);
          await queueEntry(tx, ex, document.entry!, document.concurrency, cancelExecution);
        } else {
          await updateExecution(tx, id, { approval_status: 'rejected' });
          await cancelExecution(tx, ex, `Rejected by ${actor.accountId}`, actor.accountId);
        }
        return;
      }
      await endWait(tx, id, { status: 'running', approval_status: decision });
      await appendEvents(tx, id, [log]);
      await insertTask(tx, {
        execution_id: id,
        node_id: waiting.node_id,
        state: { decision: { decision, actor_id: actor.accountId, comment: comment ?? null } },
      });
    });
    return this.executions.afterDecision(actor, id);
  }
}
