/**
 * Parallel branches inside the step commit. A parallel's step opens its join row and queues each
 * branch's first node; a step that leaves its branch (an edge to the join, or no edge at all, or a
 * failure nothing catches) arrives at the join in the same transaction: it locks the join row,
 * adds its outcome and decides. The join's task is queued only by the arrival that meets (or
 * breaks) the rule, and the row says it fired, so the join runs exactly once whichever workers
 * finish branches together. Branches still running then are cancelled: their tasks go, and the
 * workers running them abort (HTTP calls included) when this commit's NOTIFY arrives.
 */
import type { Tx } from '../db/knex';
import type { NewEvent } from '../repositories/events.repository';
import {
  deleteTasksAtNodes,
  lockJoin,
  notifyAbortTasks,
  openJoin,
  saveArrivals,
  type JoinRow,
} from '../repositories/branches.repository';
import { insertStep } from '../repositories/steps.repository';
import { insertTask } from '../repositories/tasks.repository';
import { edgesOf, nodeOf, type FlowDocument } from './definition';
import type { BranchOutcome } from './nodes/join';
import { joinNeeds, regionsOf, type BranchPlace } from './regions';

/** The step as the branch logic needs it. */
interface BranchStep {
  execution: { id: string };
  document: FlowDocument;
  task: { node_id: string };
  now: Date;
}

const logAt = (
  node: string,
  nodeType: 'parallel' | 'join',
  level: 'info' | 'warn',
  message: string,
  data: Record<string, unknown> | null = null,
): NewEvent => ({ type: 'log', level, payload: { level, message, node_id: node, node_type: nodeType, data } });

/** The innermost branch the step's node is in, if any. */
export function branchOf(document: FlowDocument, nodeId: string): BranchPlace | undefined {
  return regionsOf(document).branchOf.get(nodeId);
}

export type Verdict = 'wait' | 'met' | 'failed';

/**
 * What the join does with these outcomes: `all`/`any`/`n` count completed branches. fail_fast
 * decides as soon as the rule is met or can no longer be; wait_all only once every branch ended.
 */
export function decide(
  params: Record<string, unknown> | undefined,
  branches: string[],
  outcomes: Record<string, BranchOutcome>,
): Verdict {
  const need = joinNeeds(params, branches.length);
  const ended = branches.filter((b) => Object.hasOwn(outcomes, b));
  const completed = ended.filter((b) => outcomes[b].status === 'completed').length;
  const lost = ended.length - completed;
  if ((params?.on_failure ?? 'fail_fast') === 'wait_all') {
    if (ended.length < branches.length) return 'wait';
    return completed >= need ? 'met' : 'failed';
  }
  if (completed >= need) return 'met';
  if (branches.length - lost < need) return 'failed';
  return 'wait';
}

/** A parallel's step: opens its join, queues the first node of each branch; an empty branch arrives at once. */
export async function startBranches(tx: Tx, step: BranchStep): Promise<NewEvent[]> {
  const node = nodeOf(step.document, step.task.node_id)!;
  const join = String(node.params?.join);
  const branches = Object.entries(edgesOf(node));
  await openJoin(tx, {
    execution_id: step.execution.id,
    join_node: join,
    parallel_node: step.task.node_id,
    branches: branches.map(([name]) => name),
  });
  const events: NewEvent[] = [
    logAt(
      step.task.node_id,
      'parallel',
      'info',
      `Started ${branches.length} branches: ${branches.map(([n]) => n).join(', ')}`,
    ),
  ];
  for (const [, start] of branches)
    if (start !== join) await insertTask(tx, { execution_id: step.execution.id, node_id: start });
  for (const [branch, start] of branches)
    if (start === join)
      events.push(
        ...(await arriveAtJoin(
          tx,
          step,
          { parallel: step.task.node_id, join, branch },
          { status: 'completed', output: null, error: null },
        )),
      );
  return events;
}

/**
 * A branch ended (arrived at its join, reached a node with no edge, or failed): records it under
 * the join row's lock and, when the rule is decided, cancels what still runs and queues the join.
 */
export async function arriveAtJoin(
  tx: Tx,
  step: BranchStep,
  place: BranchPlace,
  outcome: BranchOutcome,
): Promise<NewEvent[]> {
  const row = await lockJoin(tx, step.execution.id, place.join);
  // A branch that ends after the join fired (it was being cancelled) changes nothing.
  if (!row || row.fired || row.parallel_node !== place.parallel || Object.hasOwn(row.outcomes, place.branch)) return [];
  const outcomes: JoinRow['outcomes'] = { ...row.outcomes, [place.branch]: outcome };
  const joinNode = nodeOf(step.document, place.join)!;
  const verdict = decide(joinNode.params, row.branches, outcomes);
  const events: NewEvent[] = [];
  if (outcome.status === 'failed')
    events.push(
      logAt(place.join, 'join', 'warn', `Branch "${place.branch}" failed: ${outcome.error}`, { branch: place.branch }),
    );
  if (verdict === 'wait') {
    await saveArrivals(tx, step.execution.id, place.join, outcomes, false);
    return events;
  }
  const open = row.branches.filter((b) => !Object.hasOwn(outcomes, b));
  if (open.length > 0) {
    const reason =
      verdict === 'met' ? `the join "${place.join}" has what it needs` : `the join "${place.join}" cannot be met`;
    await cancelBranches(tx, step, place.parallel, reason);
    for (const b of open) outcomes[b] = { status: 'cancelled', output: null, error: `cancelled: ${reason}` };
    events.push(
      logAt(place.join, 'join', 'warn', `Cancelled branches ${open.join(', ')}: ${reason}`, { branches: open }),
    );
  }
  await saveArrivals(tx, step.execution.id, place.join, outcomes, true);
  await insertTask(tx, {
    execution_id: step.execution.id,
    node_id: place.join,
    state: { join: { outcomes, met: verdict === 'met' } },
  });
  return events;
}

/** Drops the queued work of every branch of the parallel and aborts the steps running it. */
async function cancelBranches(tx: Tx, step: BranchStep, parallel: string, reason: string): Promise<void> {
  const members = [...(regionsOf(step.document).members.get(parallel) ?? [])];
  const tasks = await deleteTasksAtNodes(tx, step.execution.id, members);
  const running = tasks.filter((t) => t.lease_owner);
  for (const t of running)
    await insertStep(tx, {
      execution_id: step.execution.id,
      node_id: t.node_id,
      node_type: nodeOf(step.document, t.node_id)?.type ?? 'unknown',
      attempt: t.attempt,
      status: 'cancelled',
      input: null,
      output: null,
      error: `cancelled while running: ${reason}`,
      actor_id: null,
      started_at: null,
      completed_at: step.now,
    });
  await notifyAbortTasks(
    tx,
    running.map((t) => String(t.id)),
  );
}
