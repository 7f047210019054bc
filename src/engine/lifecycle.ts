/**
 * Transitions of an execution that both the API and the workers make, inside the caller's
 * transaction: creating one (a start, a subflow's child), cancelling one (with its children),
 * telling a waiting parent that its child finished, and failing one whose task poisons the engine.
 */
import type { Tx } from '../db/knex';
import type { ExecutionRow, ExecutionStatus, ExecutionTrigger, FileSnapshot } from '../db/tables';
import { appendEvents } from '../repositories/events.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import {
  insertExecution,
  lockExecution,
  lockUnfinishedChildren,
  notifyCancelled,
  updateExecution,
} from '../repositories/executions.repository';
import type { ItemEnd } from '../repositories/foreach.repository';
import type { NewStart } from '../repositories/starts.repository';
import { insertStep } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask, type ClaimedTask } from '../repositories/tasks.repository';
import { admitExecution, type Admission } from './concurrency';
import { nodeOf, type FlowDocument } from './definition';
import { foreachChildEnded, foreachChildrenEnded, type HandOver } from './foreach-commit';

/** A start's execution (see NewStart), or a subflow's child, or one that waits for an approval first. */
export interface NewExecution extends Omit<NewStart, 'leased_to' | 'client_id' | 'flow_request' | 'stage' | 'name'> {
  client_id?: string | null;
  /** `draft` unless said (a subflow's child runs its flow's latest version). */
  stage?: NewStart['stage'];
  name?: string | null;
  flow_request?: NewStart['flow_request'];
  parent_execution_id?: string | null;
  depth?: number;
  /** A flow-level approval: the execution waits before its first node. */
  approval?: { approvers: string[]; no_self_approval: boolean };
  /** The schedule or webhook trigger that started it. */
  trigger?: ExecutionTrigger | null;
  /** Its input files' metadata (002), which its templates read as `files`. */
  input_files?: FileSnapshot[] | null;
  /** Its flow's concurrency limit and its key: it runs only once admitted (concurrency.ts). */
  concurrency?: Admission;
  /** A foreach's iteration: which one (foreach-commit.ts). */
  iteration?: ExecutionRow['iteration'];
}

export async function createExecution(tx: Tx, n: NewExecution): Promise<ExecutionRow> {
  const waiting = n.approval !== undefined;
  const execution = await insertExecution(tx, {
    id: n.id,
    account_id: n.account_id,
    organization_id: n.organization_id,
    flow_id: n.flow_id,
    flow_version: n.flow_version,
    status: waiting ? 'waiting' : 'queued',
    client_id: n.client_id ?? null,
    input: n.input,
    started_by: n.started_by,
    stage: n.stage ?? 'draft',
    name: n.name ?? null,
    flow_request: n.flow_request ? (JSON.stringify(n.flow_request) as never) : null,
    parent_execution_id: n.parent_execution_id ?? null,
    depth: n.depth ?? 0,
    nodes_total: n.nodes_total,
    trigger: n.trigger ? (JSON.stringify(n.trigger) as never) : null,
    input_files: n.input_files ? (JSON.stringify(n.input_files) as never) : null,
    ...(n.concurrency ? { concurrency_key: n.concurrency.key } : {}),
    ...(n.iteration ? { iteration: JSON.stringify(n.iteration) as never } : {}),
    approval_status: waiting ? 'pending' : null,
    waiting_for: waiting
      ? (JSON.stringify({ node_id: null, kind: 'approval', ...n.approval, deadline: null }) as never)
      : null,
  });
  if (waiting) {
    await appendEvents(tx, n.id, [
      { type: 'execution_update', payload: { status: 'waiting', node_id: null, node_type: null } },
      {
        type: 'log',
        level: 'info',
        payload: {
          level: 'info',
          message: 'Waiting for approval before the first node',
          node_id: null,
          node_type: null,
          data: null,
        },
      },
    ]);
  } else {
    await appendEvents(tx, n.id, [
      { type: 'execution_update', payload: { status: 'queued', node_id: null, node_type: null } },
    ]);
    const admitted = n.concurrency
      ? await admitExecution(tx, execution, n.entry, n.concurrency, cancelExecution)
      : 'run';
    if (admitted === 'run') await insertTask(tx, { execution_id: n.id, node_id: n.entry });
    // Skipped at its flow's limit: it is already cancelled.
    if (admitted === 'skipped') return (await lockExecution(tx, n.id))!;
  }
  return execution;
}

/** Tells a parent waiting on this child how it ended: the parent's subflow node runs again with it. */
export async function notifyParent(
  tx: Tx,
  child: Pick<ExecutionRow, 'id' | 'parent_execution_id' | 'iteration'>,
  status: ExecutionStatus,
  result: unknown,
  error: string | null,
): Promise<void> {
  if (!child.parent_execution_id) return;
  if (await foreachChildEnded(tx, child, status, result, error, LIFECYCLE)) return;
  const parent = await lockExecution(tx, child.parent_execution_id);
  const waitingFor = parent?.waiting_for as { kind?: string; node_id?: string; child_execution_id?: string } | null;
  if (
    !parent ||
    parent.status !== 'waiting' ||
    waitingFor?.kind !== 'subflow' ||
    waitingFor.child_execution_id !== child.id
  )
    return;
  await insertTask(tx, {
    execution_id: parent.id,
    node_id: waitingFor.node_id!,
    state: { child: { id: child.id, status, result: result ?? null, error } },
  });
}

/** What foreach-commit.ts cancels iterations with. */
const LIFECYCLE = { cancel: cancelExecution };

/**
 * Foreach iterations that ended in this transaction (see `StepContext.itemEnds`): their foreaches
 * move on. Answers the iterations started in their place (leased to `handOver`'s worker, if given).
 */
export async function iterationsEnded(tx: Tx, ends: ItemEnd[], handOver?: HandOver): Promise<ClaimedTask[]> {
  if (ends.length === 0) return [];
  return (await foreachChildrenEnded(tx, ends, LIFECYCLE, handOver)).started;
}

/** The error of an execution that the engine itself failed on, again and again. */
export const INTERNAL_ERROR = 'internal_error';

/**
 * Fails an execution whose task the engine could not run or commit `failures` times (a result
 * the database refuses, a bug). Writes nothing the failed step produced: that may be what fails.
 */
export async function failPoisonedExecution(
  tx: Tx,
  ex: ExecutionRow,
  task: { node_id: string; attempt: number },
  failures: number,
): Promise<void> {
  const now = new Date();
  await deleteExecutionTasks(tx, ex.id);
  const document = (await findFlowVersion(tx, ex.flow_id, ex.flow_version))?.document as FlowDocument | undefined;
  const about = { node_id: task.node_id, node_type: (document && nodeOf(document, task.node_id)?.type) ?? 'unknown' };
  await insertStep(tx, {
    execution_id: ex.id,
    ...about,
    attempt: task.attempt,
    status: 'failed',
    input: null,
    output: null,
    error: INTERNAL_ERROR,
    actor_id: null,
    started_at: null,
    completed_at: now,
  });
  await updateExecution(tx, ex.id, {
    status: 'failed',
    error: INTERNAL_ERROR,
    completed_at: now,
    waiting_for: null,
    waiting_until: null,
  });
  const message = `The engine failed ${failures} times on node "${task.node_id}" (for example, its result could not be stored); the execution ends. The server log has the cause.`;
  await appendEvents(tx, ex.id, [
    {
      type: 'log',
      level: 'error',
      payload: { level: 'error', message, ...about, data: { engine_failures: failures } },
    },
    { type: 'execution_failed', payload: { status: 'failed', error: INTERNAL_ERROR, ...about } },
  ]);
  await notifyCancelled(tx, ex.id);
  const children = await lockUnfinishedChildren(tx, ex.id);
  for (const child of children) await cancelExecution(tx, child, `Cancelled with its parent ${ex.id}`, null);
  await notifyParent(tx, ex, 'failed', null, INTERNAL_ERROR);
}

/**
 * Cancels an execution that is not finished: drops its queued work (a running step's result will
 * be refused), records what was running, cancels its children and tells its parent.
 */
export async function cancelExecution(tx: Tx, ex: ExecutionRow, reason: string, actorId: string | null): Promise<void> {
  const now = new Date();
  const tasks = await deleteExecutionTasks(tx, ex.id);
  const running = tasks.filter((t) => t.lease_owner);
  if (running.length > 0) {
    const document = (await findFlowVersion(tx, ex.flow_id, ex.flow_version))!.document as FlowDocument;
    for (const t of running) {
      await insertStep(tx, {
        execution_id: ex.id,
        node_id: t.node_id,
        node_type: nodeOf(document, t.node_id)?.type ?? 'unknown',
        attempt: t.attempt,
        status: 'cancelled',
        input: null,
        output: null,
        error: 'cancelled while running',
        actor_id: actorId,
        started_at: null,
        completed_at: now,
      });
    }
  }
  await updateExecution(tx, ex.id, {
    status: 'cancelled',
    error: reason,
    completed_at: now,
    waiting_for: null,
    waiting_until: null,
  });
  await appendEvents(tx, ex.id, [
    {
      type: 'log',
      level: 'warn',
      payload: {
        level: 'warn',
        message: reason,
        node_id: ex.current_node,
        node_type: null,
        data: actorId ? { by: actorId } : null,
      },
    },
    {
      type: 'execution_failed',
      payload: { status: 'cancelled', error: reason, node_id: ex.current_node, node_type: null },
    },
  ]);
  await notifyCancelled(tx, ex.id);
  const children = await lockUnfinishedChildren(tx, ex.id);
  for (const child of children) await cancelExecution(tx, child, `Cancelled with its parent ${ex.id}`, actorId);
  await notifyParent(tx, ex, 'cancelled', null, reason);
}
