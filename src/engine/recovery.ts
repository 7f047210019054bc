/**
 * Recovering a failed or cancelled execution: which steps it stopped at, and the transition that
 * makes it run again from them (`resumeExecution`, inside the caller's transaction), and what a
 * rerun from a node reuses of the original and whether another version still fits it.
 *
 * A retry restarts a list of tasks, not one node: a flow that stopped on several steps at once
 * (parallel branches, foreach iterations) restarts each of them, each with its own state.
 */
import type { Tx } from '../db/knex';
import type { ExecutionRow, StepRow } from '../db/tables';
import { appendEvents } from '../repositories/events.repository';
import { updateExecution } from '../repositories/executions.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import { edgesOf, nodeCount, nodeOf, type FlowDocument } from './definition';

/** A node attempt to queue again: the node, its next attempt number, and the state it resumes with. */
export interface RetryTask {
  node_id: string;
  attempt: number;
  state?: Record<string, unknown> | null;
  /**
   * A foreach node that goes on with these items of its run (foreach-retry.ts) instead of
   * starting over: no task is queued for it; its last run is, when the items end.
   */
  items?: number[];
}

/** The next attempt number of a node: its attempts go on where its history ends. */
export function nextAttempt(steps: StepRow[], nodeId: string): number {
  let last = 0;
  for (const s of steps) if (s.node_id === nodeId && s.attempt > last) last = s.attempt;
  return last + 1;
}

/**
 * The tasks a finished execution stopped at. The steps that ended it were written in the
 * transaction that ended it, stamped with the execution's own `completed_at`: the failed node, a
 * fail node, the steps cancelled while running. When none were (cancelled while queued, sleeping
 * or waiting; failed by its output template or its step limit), it is the node it was at, else
 * its entry.
 */
export function stoppedTasks(ex: ExecutionRow, steps: StepRow[], document: FlowDocument): RetryTask[] {
  const end = ex.completed_at?.getTime();
  const ending = steps.filter(
    (s) =>
      (s.status === 'failed' || s.status === 'cancelled') && end !== undefined && s.completed_at?.getTime() === end,
  );
  const nodes = ending.length > 0 ? [...new Set(ending.map((s) => s.node_id))] : [ex.current_node ?? document.entry!];
  return nodes.map((node_id) => ({ node_id, attempt: nextAttempt(steps, node_id) }));
}

/** "item 2" or "items 0, 3, 4, 5, 6 and 45 more". */
function itemsText(items: number[]): string {
  const shown = items.slice(0, 5).join(', ');
  return `item${items.length === 1 ? '' : 's'} ${shown}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`;
}

export interface Resume {
  tasks: RetryTask[];
  /** The version it continues on (its pinned one, or the flow's current one) and its document. */
  version: number;
  document: FlowDocument;
  /** A new input, replacing the old from here on. */
  input?: Record<string, unknown>;
  actorId: string;
  /** Its node count, when not the document's (a foreach's body iteration counts its body). */
  nodesTotal?: number;
}

/**
 * Makes a failed or cancelled execution (locked by the caller) run again from `tasks`: it is
 * running again with the state it had, its error and end cleared, its retries counted, and the
 * events that say so follow its earlier ones.
 */
export async function resumeExecution(tx: Tx, ex: ExecutionRow, r: Resume): Promise<void> {
  await deleteExecutionTasks(tx, ex.id);
  const first = r.tasks[0];
  const patch: Partial<ExecutionRow> = {
    status: 'running',
    error: null,
    result: null,
    completed_at: null,
    waiting_for: null,
    waiting_until: null,
    current_node: first.node_id,
    node_started_at: null,
    retries: ex.retries + 1,
    flow_version: r.version,
    nodes_total: r.nodesTotal ?? nodeCount(r.document),
  };
  if (r.input !== undefined) patch.input = JSON.stringify(r.input) as never;
  await updateExecution(tx, ex.id, patch);
  const about = { node_id: first.node_id, node_type: nodeOf(r.document, first.node_id)!.type };
  const what = r.tasks
    .map((t) => `"${t.node_id}" (attempt ${t.attempt}${t.items ? `, ${itemsText(t.items)}` : ''})`)
    .join(', ');
  const changes = [
    r.version !== ex.flow_version ? ` on version ${r.version}` : '',
    r.input !== undefined ? ' with a new input' : '',
  ].join('');
  await appendEvents(tx, ex.id, [
    {
      type: 'log',
      level: 'info',
      payload: {
        level: 'info',
        message: `Retried by ${r.actorId} from ${what}${changes}`,
        ...about,
        data: {
          actor_id: r.actorId,
          retry: ex.retries + 1,
          from: r.tasks.map((t) => ({
            node_id: t.node_id,
            attempt: t.attempt,
            ...(t.items ? { items: t.items } : {}),
          })),
          flow_version: r.version,
          previous_status: ex.status,
        },
      },
    },
    { type: 'execution_update', payload: { status: 'running', ...about } },
  ]);
  for (const t of r.tasks.filter((t) => !t.items))
    await insertTask(tx, {
      execution_id: ex.id,
      node_id: t.node_id,
      attempt: t.attempt,
      ...(t.state ? { state: t.state } : {}),
    });
}

/**
 * The nodes that completed in the original before `fromNode` first began, each with its latest
 * completed step: a rerun from `fromNode` reuses their outputs. Undefined when `fromNode` never ran.
 */
export function reusedSteps(steps: StepRow[], fromNode: string): StepRow[] | undefined {
  // A step cancelled while running has no start of its own: it took its place when it ended.
  const at = (s: StepRow) => (s.started_at ?? s.completed_at)?.getTime() ?? 0;
  const ordered = [...steps].sort((a, b) => at(a) - at(b) || a.id.localeCompare(b.id));
  const first = ordered.findIndex((s) => s.node_id === fromNode);
  if (first < 0) return undefined;
  const latest = new Map<string, StepRow>();
  for (const s of ordered.slice(0, first)) if (s.status === 'completed') latest.set(s.node_id, s);
  return [...latest.values()];
}

/** The node ids a node's params read through `nodes.<id>` in their templates. */
function readsOf(node: { params?: unknown }): string[] {
  const text = JSON.stringify(node.params ?? {});
  return [...text.matchAll(/nodes\.([A-Za-z_][A-Za-z0-9_-]*)/g)].map((m) => m[1]);
}

function reachableFrom(document: FlowDocument, start: string): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    const node = nodeOf(document, queue.shift()!);
    if (!node) continue;
    for (const target of Object.values(edgesOf(node)))
      if (nodeOf(document, target) && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
  }
  return seen;
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

/**
 * What differs between the version a rerun from `fromNode` reuses outputs of (`before`) and the
 * version it runs (`after`), as sentences; none when the reused outputs still fit. A reused
 * node must still exist with the same type and params (its output has the shape they give), and
 * every node the rest of the flow reads must be reused or run again after `fromNode`.
 */
export function rerunMismatches(
  before: FlowDocument,
  after: FlowDocument,
  fromNode: string,
  reused: string[],
): string[] {
  const problems: string[] = [];
  for (const id of reused) {
    const was = nodeOf(before, id);
    const now = nodeOf(after, id);
    if (!now) problems.push(`node "${id}", whose output is reused, no longer exists`);
    else if (!was || was.type !== now.type)
      problems.push(`node "${id}", whose output is reused, changed type from ${was?.type ?? 'none'} to ${now.type}`);
    else if (canonical(was.params ?? {}) !== canonical(now.params ?? {}))
      problems.push(`node "${id}", whose output is reused, changed its params (its output may have another shape)`);
  }
  const runs = reachableFrom(after, fromNode);
  const available = new Set([...reused, ...runs]);
  const unmet = new Set<string>();
  for (const id of runs) {
    const node = nodeOf(after, id);
    if (!node) continue;
    for (const read of readsOf(node)) if (!available.has(read)) unmet.add(`node "${id}" reads nodes.${read}`);
  }
  for (const u of unmet)
    problems.push(`${u}, which neither completed before "${fromNode}" in the original nor runs after it`);
  return problems;
}
