/**
 * Retrying a foreach's items (issue 18). The items to run again go back to `pending` keeping their
 * child executions; the foreach starts (up to its `concurrency`, the rest as slots free up) each
 * of them by resuming its child where it stopped — the same execution, its steps and events going
 * on — and never-started items as new children. Completed items keep their results; the foreach's
 * last run, when the items end, collects every result in order, the new outcomes in place. The
 * caller (services/recovery.service.ts) holds the parent's, the run's and the items' locks.
 */
import type { Tx } from '../db/knex';
import { FINAL_STATUSES, type ExecutionRow, type ForeachProgress } from '../db/tables';
import {
  countRunningItems,
  failedItems,
  reopenItems,
  setForeachProgress,
  updateForeachRun,
  type ForeachBody,
  type ForeachItemRow,
  type ForeachRunRow,
} from '../repositories/foreach.repository';
import { edgeFor, nodeCount, nodeOf, type FlowDocument } from './definition';
import { FAILED_ITEMS_SHOWN, startItems } from './foreach-commit';
import { regionsOf } from './regions';

/** An item a retry runs again: it did not complete (failed, cancelled, or never started). */
const unfinished = (item: Pick<ForeachItemRow, 'status'>): boolean =>
  item.status === 'failed' || item.status === 'cancelled' || item.status === 'pending';

/** An item the caller may name to retry: it failed or was cancelled. */
export const retriable = (item: Pick<ForeachItemRow, 'status'>): boolean =>
  item.status === 'failed' || item.status === 'cancelled';

/**
 * The items a retry runs: those named, and with `on_item_error: fail` every other unfinished one
 * too (the foreach stopped at its first failure: the rest must run for it to finish); without
 * names, every unfinished one.
 */
export function itemsToRun(run: Pick<ForeachRunRow, 'on_item_error'>, items: ForeachItemRow[], named?: number[]) {
  if (!named) return items.filter(unfinished);
  const wanted = new Set(named);
  return items.filter((i) => wanted.has(i.idx) || (run.on_item_error === 'fail' && unfinished(i)));
}

/**
 * How a foreach's iterations run on `version` of its flow: a body foreach's entry and size come
 * from that version's definition (the parent's, after a fix); a subflow's from the subflow's.
 */
export function bodyOn(
  run: Pick<ForeachRunRow, 'node_id' | 'body'>,
  version: number,
  document: FlowDocument,
): ForeachBody | undefined {
  if (!run.body.body)
    return { ...run.body, version, entry: document.entry!, nodes_total: nodeCount(document), body: false };
  const node = nodeOf(document, run.node_id);
  const entry = node && edgeFor(node, 'each');
  if (!node || node.type !== 'foreach' || !entry) return undefined;
  return {
    ...run.body,
    version,
    entry,
    nodes_total: regionsOf(document).bodies.get(run.node_id)?.size ?? 0,
  };
}

export interface ItemsRetry {
  /** The run, locked. */
  run: ForeachRunRow;
  /** Its items, locked: all of them (a parent that ended), or at least those to run. */
  items: ForeachItemRow[];
  /** Those to run again. */
  redo: ForeachItemRow[];
  /** How its iterations run from now on (a fixed version), and the attempt its last run records. */
  body: ForeachBody;
  attempt: number;
  actorId: string;
}

/**
 * Runs a foreach's items again, in the transaction that retries them. A parent that had ended
 * was made running by the caller (resumeExecution, with no task for the foreach node); a parent
 * still in its foreach (`on_item_error: continue`) just gets the items back.
 */
export async function retryForeachItems(tx: Tx, parent: ExecutionRow, r: ItemsRetry): Promise<void> {
  const { run } = r;
  const key = { execution_id: run.execution_id, node_id: run.node_id };
  const indexes = r.redo.map((i) => i.idx);
  await reopenItems(tx, key, indexes);
  // A parent that ended counts from its items (cancelled ones were never counted); one still
  // running has every finished item in its counters.
  const ended = FINAL_STATUSES.includes(parent.status);
  const again = new Set(indexes);
  const left = r.items.filter((i) => !again.has(i.idx));
  const done = ended
    ? left.filter((i) => i.status !== 'pending' && i.status !== 'running').length
    : run.done - r.redo.filter(retriable).length;
  const failed = ended ? left.filter(retriable).length : run.failed - r.redo.filter(retriable).length;
  await updateForeachRun(tx, key, {
    status: 'running',
    attempt: r.attempt,
    done,
    failed,
    retried_by: r.actorId,
    body: r.body,
  });
  const progress: ForeachProgress = {
    node_id: run.node_id,
    done,
    total: run.total,
    failed,
    failed_items: await failedItems(tx, key, FAILED_ITEMS_SHOWN),
  };
  await setForeachProgress(tx, run.execution_id, progress);
  const free = run.concurrency - (await countRunningItems(tx, key));
  if (free > 0) await startItems(tx, run.execution_id, { ...run, body: r.body, retried_by: r.actorId }, free);
}
