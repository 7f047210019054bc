/**
 * A foreach inside the step commit. Its first step writes the run and every item (pending) and
 * starts the first `concurrency` iterations as child executions; from then on each child's end,
 * in the transaction that ends it, records its item's result, starts the next pending item (so
 * only `concurrency` iterations exist as work at a time), updates the parent's `progress.foreach`
 * and, at most once a second and at the end, tells it in a log event. The last item queues the
 * foreach node again with every result in order; it completes (or fails) with them. A crash
 * loses nothing: items, children and counters commit with the steps that change them.
 */
import type { Tx } from '../db/knex';
import { newId } from '../db/ids';
import type { ExecutionRow, ExecutionStatus, ForeachProgress } from '../db/tables';
import { appendEvents, type NewEvent } from '../repositories/events.repository';
import {
  deleteExecutionRow,
  findExecution,
  lockExecution,
  lockUnfinishedChildren,
} from '../repositories/executions.repository';
import {
  claimPendingItems,
  countItemEnds,
  failedItems,
  finishItemsOfChildren,
  foreachResults,
  markItemRunning,
  openForeach,
  setForeachProgress,
  unclaimItems,
  type ForeachBody,
  type EndedItem,
  type ForeachItemRow,
  type ItemEnd,
  type ItemParent,
  type ForeachKey,
  type ForeachRunRow,
} from '../repositories/foreach.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import { insertStarts, type NewStart } from '../repositories/starts.repository';
import { listAllStepRows } from '../repositories/steps.repository';
import { insertTask, type ClaimedTask } from '../repositories/tasks.repository';
import { edgeFor, nodeOf, type FlowDocument, type NodeDefinition } from './definition';
import type { ControlStep } from './nodes/types';
import { nextAttempt, resumeExecution, stoppedTasks } from './recovery';
import { regionsOf } from './regions';

/** How often (at most) a running foreach tells its progress in an event. */
export const PROGRESS_EVENT_MS = 1000;

/** How many failed items `progress.foreach.failed_items` lists (the first, by index). */
export const FAILED_ITEMS_SHOWN = 100;

type StartableRun = Pick<ForeachRunRow, 'execution_id' | 'node_id' | 'body' | 'retried_by'>;

/** What this file needs from lifecycle.ts (which calls it): cancelling executions. */
export interface Lifecycle {
  cancel(tx: Tx, ex: ExecutionRow, reason: string, actorId: string | null): Promise<void>;
}

/** The template names an iteration adds: its item and index. */
export function iterationScope(execution: Pick<ExecutionRow, 'iteration'>): Record<string, unknown> {
  return execution.iteration ? { item: execution.iteration.item, index: execution.iteration.index } : {};
}

const progressEvent = (progress: ForeachProgress, message: string): NewEvent => ({
  type: 'log',
  level: 'info',
  payload: { level: 'info', message, node_id: progress.node_id, node_type: 'foreach', data: { foreach: progress } },
});

/** The foreach's first step: its run, its items, its first iterations. */
export async function startForeach(
  tx: Tx,
  step: {
    execution: ExecutionRow;
    document: FlowDocument;
    task: { node_id: string; attempt: number };
    node: NodeDefinition;
  },
  control: Extract<ControlStep, { kind: 'foreach' }>,
): Promise<NewEvent[]> {
  const { execution: ex, task } = step;
  const body: ForeachBody = control.subflow
    ? { ...control.subflow, body: false }
    : {
        flow_id: ex.flow_id,
        version: ex.flow_version,
        entry: edgeFor(step.node, 'each')!,
        nodes_total: regionsOf(step.document).bodies.get(task.node_id)?.size ?? 0,
        body: true,
      };
  const run = {
    execution_id: ex.id,
    node_id: task.node_id,
    attempt: task.attempt,
    total: control.items.length,
    concurrency: control.concurrency,
    on_item_error: control.on_item_error,
    body,
  };
  await openForeach(tx, run, control.items);
  const progress: ForeachProgress = { node_id: task.node_id, done: 0, total: run.total, failed: 0 };
  await setForeachProgress(tx, ex.id, progress);
  if (run.total === 0) {
    await queueLastRun(tx, run, { results: [], errors: [] });
    return [];
  }
  await startItems(tx, ex.id, { ...run, retried_by: null }, control.concurrency);
  return [
    progressEvent(progress, `Foreach over ${run.total} items, ${Math.min(run.concurrency, run.total)} at a time`),
  ];
}

/**
 * Starts up to `count` pending items, in order: each as a new child execution, or, for an item
 * being retried, by resuming its child (`resumeNow`; else those are returned, for the caller to
 * resume once it knows the foreach goes on: a resumed child cannot be taken back as a new one is).
 */
export async function startItems(
  tx: Tx,
  parentId: string,
  run: StartableRun,
  count: number,
  resumeNow = true,
  knownParent?: ItemParent,
  handOver?: HandOver,
): Promise<{ started: { id: string; idx: number; claimed: ClaimedTask }[]; resumable: ResumableItem[] }> {
  const key = { execution_id: run.execution_id, node_id: run.node_id };
  const ids = Array.from({ length: count }, () => newId('exec'));
  const items = await claimPendingItems(tx, key, ids);
  if (items.length === 0) return { started: [], resumable: [] };
  const resumable = items.filter((i) => i.resumed);
  const fresh = items.filter((i) => !i.resumed);
  if (resumeNow) await resumeItems(tx, run, resumable, knownParent);
  if (fresh.length === 0) return { started: [], resumable: resumeNow ? [] : resumable };
  // Read without a lock: the parent's input, account, organization and depth do not change while it runs.
  const parent = knownParent ?? (await findExecution(tx, parentId))!;
  const claimed = await insertStarts(
    tx,
    fresh.map((item) => ({
      ...childStart(parent, run, item.child_execution_id!, item),
      leased_to: handOver?.owner ?? null,
    })),
    handOver?.leaseMs ?? 0,
  );
  const started = fresh.map((item, k) => ({ id: item.child_execution_id!, idx: item.idx, claimed: claimed[k] }));
  return { started, resumable: resumeNow ? [] : resumable };
}

/** A claimed item (already marked running under `child_execution_id`) being retried. */
type ResumableItem = Pick<ForeachItemRow, 'idx' | 'item' | 'child_execution_id'>;

/** The start of the child execution `id` that runs a claimed item: queued, its entry task for any worker. */
function childStart(
  parent: ItemParent,
  run: StartableRun,
  id: string,
  item: Pick<ForeachItemRow, 'idx' | 'item'>,
): NewStart {
  const { body } = run;
  return {
    id,
    account_id: parent.account_id,
    // Its parent's organization: the one whose secrets and connections it runs with.
    organization_id: parent.organization_id,
    flow_id: body.flow_id,
    flow_version: body.version,
    entry: body.entry,
    nodes_total: body.nodes_total,
    input: body.body ? parent.input : { item: item.item, index: item.idx },
    client_id: null,
    started_by: parent.started_by,
    flow_request: null,
    stage: 'draft',
    name: null,
    leased_to: null,
    parent_execution_id: parent.id,
    depth: parent.depth + 1,
    iteration: { node_id: run.node_id, index: item.idx, item: item.item, body: body.body },
  };
}

/**
 * Items being retried, their turn come: each child execution goes on from where it stopped (a
 * retry of it, on the foreach's version), as the same execution; one that stopped at a node the
 * version no longer has goes on from the body's entry, and one that is gone (purged) gives way to
 * a new child.
 */
async function resumeItems(tx: Tx, run: StartableRun, items: ResumableItem[], knownParent?: ItemParent): Promise<void> {
  if (items.length === 0) return;
  const key = { execution_id: run.execution_id, node_id: run.node_id };
  const { body } = run;
  const document = (await findFlowVersion(tx, body.flow_id, body.version))!.document as FlowDocument;
  let parent = knownParent;
  for (const item of items) {
    const child = await lockExecution(tx, item.child_execution_id!);
    if (!child || (child.status !== 'failed' && child.status !== 'cancelled')) {
      const id = newId('exec');
      parent ??= (await findExecution(tx, run.execution_id))!;
      await insertStarts(tx, [childStart(parent, run, id, item)], 0);
      await markItemRunning(tx, key, item.idx, id);
      continue;
    }
    const steps = await listAllStepRows(tx, child.id);
    const pinned =
      child.flow_version === body.version
        ? document
        : ((await findFlowVersion(tx, child.flow_id, child.flow_version))!.document as FlowDocument);
    let tasks = stoppedTasks(child, steps, pinned);
    if (tasks.some((t) => !nodeOf(document, t.node_id)))
      tasks = [{ node_id: body.entry, attempt: nextAttempt(steps, body.entry) }];
    await resumeExecution(tx, child, {
      tasks,
      version: body.version,
      document,
      actorId: run.retried_by ?? 'the engine',
      nodesTotal: body.nodes_total,
    });
  }
}

async function queueLastRun(
  tx: Tx,
  run: Pick<ForeachRunRow, 'execution_id' | 'node_id' | 'attempt'>,
  outcome: Record<string, unknown>,
): Promise<void> {
  await insertTask(tx, {
    execution_id: run.execution_id,
    node_id: run.node_id,
    attempt: run.attempt,
    state: { foreach: outcome },
  });
}

/**
 * A child execution ended: when it is a foreach's iteration, records it and moves the foreach on
 * (true); false for any other child (a subflow's).
 */
export async function foreachChildEnded(
  tx: Tx,
  child: Pick<ExecutionRow, 'id' | 'iteration'>,
  status: ExecutionStatus,
  result: unknown,
  error: string | null,
  lifecycle: Lifecycle,
): Promise<boolean> {
  if (!child.iteration) return false;
  await foreachChildrenEnded(tx, [itemEndOf(child.id, status, result, error)], lifecycle);
  return true;
}

/** How a child execution's end reads as its item's. */
export function itemEndOf(child: string, status: ExecutionStatus, result: unknown, error: string | null): ItemEnd {
  const ended = status === 'completed' ? 'completed' : status === 'failed' ? 'failed' : 'cancelled';
  return {
    child,
    status: ended,
    result: ended === 'completed' ? result : null,
    error: ended === 'completed' ? null : (error ?? ended),
  };
}

/** A worker that takes the iterations a batch starts in memory: their entry tasks are leased to it. */
export interface HandOver {
  owner: string;
  leaseMs: number;
}

/**
 * Iterations ended (child executions, of one foreach or several, committed in this transaction):
 * records each on its item and moves each foreach on once for all of its items here; answers how
 * many were running items, and the iterations started in their place (their entry tasks leased
 * to `handOver`'s worker, when given). Siblings end together: the next items are started first,
 * under a skip-locked claim of their own, and the parent's row is locked last, once for the
 * batch, so the part that siblings (and other batches) take in turn is short (the counters, the
 * progress, at times an event); parents are locked in the order of their ids, so two batches
 * never wait on each other's. When the parent turned out to be finished, or the foreach failed
 * meanwhile, the children just started are removed again, unseen, in the same transaction.
 */
export async function foreachChildrenEnded(
  tx: Tx,
  ends: ItemEnd[],
  lifecycle: Lifecycle,
  handOver?: HandOver,
): Promise<{ found: number; started: ClaimedTask[] }> {
  const items = await finishItemsOfChildren(tx, ends);
  const runs = new Map<string, EndedItem[]>();
  for (const item of items) {
    const id = `${item.run.execution_id}\n${item.run.node_id}`;
    runs.set(id, [...(runs.get(id) ?? []), item]);
  }
  const byChild = new Map(ends.map((e) => [e.child, e]));
  const started: ClaimedTask[] = [];
  for (const [, ended] of [...runs].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
    started.push(
      ...(await itemsEnded(
        tx,
        ended.sort((x, y) => x.idx - y.idx).map((item) => ({ ...item, end: byChild.get(item.child)! })),
        lifecycle,
        handOver,
      )),
    );
  return { found: items.length, started };
}

/** Items of one foreach run that ended in this transaction, first by index. */
async function itemsEnded(
  tx: Tx,
  items: (EndedItem & { end: ItemEnd })[],
  lifecycle: Lifecycle,
  handOver: HandOver | undefined,
): Promise<ClaimedTask[]> {
  const seen = items[0].run;
  const parent = items[0].parent;
  const key: ForeachKey = { execution_id: seen.execution_id, node_id: seen.node_id };
  const stopping = items.filter((i) => i.end.status !== 'completed');
  const stops = stopping.length > 0;
  const { started, resumable } =
    seen.status === 'running' && !(stops && seen.on_item_error === 'fail')
      ? await startItems(tx, key.execution_id, seen, items.length, false, parent, handOver)
      : { started: [], resumable: [] };
  const now = new Date();
  const run = await countItemEnds(tx, key, items.length, stopping.length, now, PROGRESS_EVENT_MS);
  if (!run) {
    for (const s of started) await deleteExecutionRow(tx, s.id);
    const unstarted = started.map((s) => s.idx);
    await unclaimItems(tx, key, [...unstarted, ...resumable.map((r) => r.idx)], unstarted);
    return [];
  }
  await resumeItems(tx, run, resumable, parent);
  const { done, failed } = run;
  const progress: ForeachProgress = { node_id: run.node_id, done, total: run.total, failed };
  let message: string | undefined;
  if (run.status === 'failed') {
    const first = stopping[0];
    const reason = `Cancelled: item ${first.idx} of foreach "${run.node_id}" ${first.end.status}`;
    const ending = new Set(items.map((i) => i.child));
    for (const other of await lockUnfinishedChildren(tx, parent.id))
      if (!ending.has(other.id) && other.iteration?.node_id === run.node_id)
        await lifecycle.cancel(tx, other, reason, null);
    const outcome = await foreachResults(tx, key);
    await queueLastRun(tx, run, { ...outcome, failed: { index: first.idx, error: first.end.error } });
    message = `Foreach "${run.node_id}" stops: item ${first.idx} ${first.end.status}: ${first.end.error}`;
  } else if (run.status === 'completed') {
    await queueLastRun(tx, run, await foreachResults(tx, key));
    message = `Foreach "${run.node_id}": ${done}/${run.total} items done${failed ? `, ${failed} failed` : ''}`;
  } else if (run.due) message = `Foreach "${run.node_id}": ${done}/${run.total} items done`;
  // The list of failed items changes only when one fails; the statement above set the counters.
  if (stops)
    await setForeachProgress(tx, parent.id, {
      ...progress,
      failed_items: await failedItems(tx, key, FAILED_ITEMS_SHOWN),
    });
  if (message) await appendEvents(tx, parent.id, [progressEvent(progress, message)]);
  return started.map((s) => s.claimed);
}
