/**
 * The rules of retrying a foreach's items (issue 18), for RecoveryService's transaction: which
 * items, which parent state allows it, and what the parent does. Three ways in, one mechanism
 * (engine/foreach-retry.ts):
 * - an execution that stopped at a foreach (a retry without `items`): its unfinished items;
 * - `items` on the parent: those items (and, under `on_item_error: fail`, the other unfinished
 *   ones), also on a completed parent, which is reopened at the foreach;
 * - a retry of an iteration (a child execution): its item, the same way, or, while the parent is
 *   still in that foreach (`continue`), just the item, back among the running ones.
 */
import type { Tx } from '../db/knex';
import { FINAL_STATUSES, type ExecutionRow } from '../db/tables';
import { nodeOf, type FlowDocument } from '../engine/definition';
import { bodyOn, itemsToRun, retriable, retryForeachItems, type ItemsRetry } from '../engine/foreach-retry';
import { nextAttempt, resumeExecution, type RetryTask } from '../engine/recovery';
import { ConflictError, ValidationError } from '../errors';
import { lockExecution } from '../repositories/executions.repository';
import { lockForeachRun, lockItemOfChild, lockItems } from '../repositories/foreach.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import { listAllStepRows } from '../repositories/steps.repository';

/** A version to continue on: the number and its document. */
export interface Target {
  version: number;
  document: FlowDocument;
}

/** A foreach that a retry continues (its items) rather than starts over: the task that resumes it, and its items' retry. */
export interface Continued {
  task: RetryTask;
  retry: ItemsRetry;
}

/**
 * The foreach `task` (a node a retry restarts) stopped in: when its run is the one of the
 * node's latest attempt and has items that did not complete, the retry goes on with those.
 */
export async function continuedForeach(
  tx: Tx,
  ex: ExecutionRow,
  task: RetryTask,
  pinned: FlowDocument,
  target: Target,
  actorId: string,
): Promise<Continued | undefined> {
  if (nodeOf(pinned, task.node_id)?.type !== 'foreach') return undefined;
  const run = await lockForeachRun(tx, { execution_id: ex.id, node_id: task.node_id });
  // An older run (of an earlier attempt, or none): the foreach starts over, as any node.
  if (!run || run.attempt < task.attempt - 1) return undefined;
  const items = await lockItems(tx, { execution_id: ex.id, node_id: task.node_id });
  const redo = itemsToRun(run, items);
  if (redo.length === 0) return undefined;
  // A body foreach follows the parent to the version it continues on; a subflow's keeps its own.
  const body = run.body.body ? bodyOn(run, target.version, target.document) : run.body;
  if (!body) return undefined;
  return {
    task: { ...task, items: redo.map((i) => i.idx) },
    retry: { run, items, redo, body, actorId, attempt: task.attempt },
  };
}

/**
 * Reopens an ended parent at its foreach: it goes on from the foreach node (on `target`), whose
 * `named` items (and, under `on_item_error: fail`, its other unfinished ones) run again.
 */
async function reopenAtForeach(
  tx: Tx,
  parent: ExecutionRow,
  r: Omit<ItemsRetry, 'redo'> & { named: number[]; target: Target; input?: Record<string, unknown> },
): Promise<void> {
  const { run, items, attempt } = r;
  const redo = itemsToRun(run, items, r.named);
  await resumeExecution(tx, parent, {
    tasks: [{ node_id: run.node_id, attempt, items: redo.map((i) => i.idx) }],
    version: r.target.version,
    document: r.target.document,
    input: r.input,
    actorId: r.actorId,
  });
  await retryForeachItems(tx, parent, { run, items, redo, body: r.body, attempt, actorId: r.actorId });
}

/**
 * `items` on a parent: the items of its foreach `nodeId` (default its latest) run again, and it
 * goes on from that foreach node, even when it had completed.
 */
export async function retryItemsOf(
  tx: Tx,
  ex: ExecutionRow,
  req: { items: number[]; foreachNode?: string; input?: Record<string, unknown> },
  target: Target,
  actorId: string,
): Promise<void> {
  if (!FINAL_STATUSES.includes(ex.status))
    throw new ConflictError(`The execution is ${ex.status}; its items are retried once it has ended`, {
      reason: `status is ${ex.status}`,
    });
  const nodeId = req.foreachNode ?? ex.foreach_progress?.node_id;
  if (!nodeId)
    throw new ValidationError('The execution ran no foreach: there are no items to retry', {
      field: 'items',
      reason: 'leave items out',
    });
  const key = { execution_id: ex.id, node_id: nodeId };
  const run = await lockForeachRun(tx, key);
  if (!run)
    throw new ValidationError(`Node "${nodeId}" ran no foreach in this execution`, {
      field: 'foreach_node',
      reason: 'name a foreach node that ran',
    });
  const steps = await listAllStepRows(tx, ex.id);
  const attempt = nextAttempt(steps, nodeId);
  if (run.attempt < attempt - 1)
    throw new ConflictError(`The foreach "${nodeId}" ran again after these items; their results are gone`, {
      reason: 'its run was replaced',
    });
  const items = await lockItems(tx, key);
  const outside = req.items.filter((i) => i >= run.total);
  if (outside.length > 0)
    throw new ValidationError(`The foreach "${nodeId}" has ${run.total} items (indexes 0 to ${run.total - 1})`, {
      field: 'items',
      reason: `no item ${outside.join(', ')}`,
    });
  const named = [...new Set(req.items)].sort((a, b) => a - b);
  const notFailed = named.filter((i) => !retriable(items[i]));
  if (notFailed.length > 0)
    throw new ConflictError(
      `Only items that failed or were cancelled are retried; ${notFailed.map((i) => `item ${i} is ${items[i].status}`).join(', ')}`,
      { field: 'items', reason: `items ${notFailed.join(', ')} did not fail` },
    );
  const body = run.body.body ? bodyOn(run, target.version, target.document) : run.body;
  if (!body)
    throw new ValidationError(`Version ${target.version} has no foreach "${nodeId}" with an \`each\` edge`, {
      field: 'use_current_version',
      reason: `version ${target.version} changed node ${nodeId}`,
    });
  await reopenAtForeach(tx, ex, { run, items, named, body, attempt, actorId, target, input: req.input });
}

/**
 * A retry of an iteration (`child`, locked, failed or cancelled): its item runs again. Returns
 * the parent's id when the parent was reopened (it had ended), for the caller to forget.
 */
export async function retryIteration(
  tx: Tx,
  child: ExecutionRow,
  req: { useCurrentVersion?: boolean },
  target: Target,
  actorId: string,
): Promise<string | undefined> {
  const item = await lockItemOfChild(tx, child.id);
  if (!item || !child.parent_execution_id)
    throw new ConflictError('This iteration is no longer an item of its foreach: the foreach ran again since', {
      reason: 'its foreach run was replaced',
    });
  if (!retriable(item))
    throw new ConflictError(
      `Item ${item.idx} is ${item.status === 'pending' ? 'already to be retried' : item.status}`,
      {
        reason: `item status is ${item.status}`,
      },
    );
  const parent = (await lockExecution(tx, child.parent_execution_id))!;
  const key = { execution_id: parent.id, node_id: item.node_id };
  const run = (await lockForeachRun(tx, key))!;
  if (!FINAL_STATUSES.includes(parent.status)) {
    if (run.status !== 'running')
      throw new ConflictError(
        `The parent execution ${parent.id} has moved past the foreach "${run.node_id}" and is ${parent.status}; retry the iteration once it has ended`,
        { reason: `parent is ${parent.status}` },
      );
    if (req.useCurrentVersion)
      throw new ConflictError(
        `The parent execution ${parent.id} is still running its foreach on version ${run.body.version}; retry the iteration without use_current_version, or once the parent has ended`,
        { field: 'use_current_version', reason: 'the foreach is still running' },
      );
    await retryForeachItems(tx, parent, {
      run,
      items: [item],
      redo: [item],
      body: run.body,
      attempt: run.attempt,
      actorId,
    });
    return undefined;
  }
  if (parent.approval_status === 'rejected' || parent.approval_status === 'pending')
    throw new ConflictError(`The parent execution ${parent.id} was not approved; rerun it`, {
      reason: `parent approval_status is ${parent.approval_status}`,
    });
  const steps = await listAllStepRows(tx, parent.id);
  const attempt = nextAttempt(steps, run.node_id);
  if (run.attempt < attempt - 1)
    throw new ConflictError(`The foreach "${run.node_id}" ran again after this iteration; retry the parent instead`, {
      reason: 'its run was replaced',
    });
  // A body iteration runs the parent's flow: the parent moves to the target version with it.
  const parentTarget = child.iteration?.body
    ? target
    : {
        version: parent.flow_version,
        document: (await findFlowVersion(tx, parent.flow_id, parent.flow_version))!.document as FlowDocument,
      };
  const body = bodyOn(run, target.version, target.document);
  if (!body || !nodeOf(parentTarget.document, run.node_id))
    throw new ValidationError(`Version ${target.version} has no foreach "${run.node_id}" with an \`each\` edge`, {
      field: 'use_current_version',
      reason: `version ${target.version} changed node ${run.node_id}`,
    });
  const items = await lockItems(tx, key);
  await reopenAtForeach(tx, parent, { run, items, named: [item.idx], body, attempt, actorId, target: parentTarget });
  return parent.id;
}
