/** A foreach's run (its counters) and its items (each one's child execution and result, in order). */
import type { Knex } from 'knex';
import type { ForeachProgress } from '../db/tables';

export interface ForeachBody {
  flow_id: string;
  version: number;
  entry: string;
  nodes_total: number;
  /** The foreach's own `each` nodes (the child sees `item`, `index` and the parent's input). */
  body: boolean;
}

export interface ForeachRunRow {
  execution_id: string;
  node_id: string;
  attempt: number;
  total: number;
  concurrency: number;
  on_item_error: 'fail' | 'continue';
  body: ForeachBody;
  done: number;
  failed: number;
  status: 'running' | 'completed' | 'failed';
  last_event_at: Date | null;
  /** Who last retried items of it: the author of the log line of a child resumed later. */
  retried_by: string | null;
}

export interface ForeachItemRow {
  execution_id: string;
  node_id: string;
  idx: number;
  item: unknown;
  /** `pending` with a child execution: an item to retry, whose child is resumed when its turn comes. */
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
  child_execution_id: string | null;
  error: string | null;
}

export interface ForeachKey {
  execution_id: string;
  node_id: string;
}

/** Writes a new run of the foreach and all its items, pending (a run before it, of a loop, goes). */
export async function openForeach(
  tx: Knex.Transaction,
  run: Pick<ForeachRunRow, 'execution_id' | 'node_id' | 'attempt' | 'total' | 'concurrency' | 'on_item_error' | 'body'>,
  items: unknown[],
): Promise<void> {
  await tx('foreach_runs').where({ execution_id: run.execution_id, node_id: run.node_id }).delete();
  await tx('foreach_runs').insert({ ...run, body: JSON.stringify(run.body) });
  await tx.raw(
    `insert into foreach_items (execution_id, node_id, idx, item)
     select ?, ?, (u.ord - 1)::int, u.item from jsonb_array_elements(?::jsonb) with ordinality as u(item, ord)`,
    [run.execution_id, run.node_id, JSON.stringify(items)],
  );
}

/** The run as it stands (no lock): whether to start another item at all. */
export async function findForeachRun(db: Knex, key: ForeachKey): Promise<ForeachRunRow | undefined> {
  return db<ForeachRunRow>('foreach_runs').where(key).first();
}

/** An item whose child was started in this transaction but must not run after all. */
export async function unstartItem(tx: Knex.Transaction, key: ForeachKey, idx: number): Promise<void> {
  await tx('foreach_items')
    .where({ ...key, idx })
    .update({ status: 'pending', child_execution_id: null });
}

export async function lockForeachRun(tx: Knex.Transaction, key: ForeachKey): Promise<ForeachRunRow | undefined> {
  return tx<ForeachRunRow>('foreach_runs').where(key).forUpdate().first();
}

export async function updateForeachRun(
  tx: Knex.Transaction,
  key: ForeachKey,
  patch: Partial<
    Pick<ForeachRunRow, 'done' | 'failed' | 'status' | 'last_event_at' | 'attempt' | 'retried_by' | 'body'>
  >,
): Promise<void> {
  const { body, ...rest } = patch;
  await tx('foreach_runs')
    .where(key)
    .update({ ...rest, ...(body ? { body: JSON.stringify(body) } : {}) });
}

/** Every item of the run, first by index, locked: what a retry of its items reads and changes. */
export async function lockItems(tx: Knex.Transaction, key: ForeachKey): Promise<ForeachItemRow[]> {
  return tx<ForeachItemRow>('foreach_items')
    .where(key)
    .orderBy('idx')
    .forUpdate()
    .select('execution_id', 'node_id', 'idx', 'status', 'child_execution_id', 'error');
}

/** Items to run again: pending, keeping their child executions (resumed when their turn comes). */
export async function reopenItems(tx: Knex.Transaction, key: ForeachKey, indexes: number[]): Promise<void> {
  await tx('foreach_items').where(key).whereIn('idx', indexes).update({ status: 'pending', result: null, error: null });
}

/** How many of the run's iterations exist as work now. */
export async function countRunningItems(tx: Knex.Transaction, key: ForeachKey): Promise<number> {
  const row = await tx('foreach_items')
    .where({ ...key, status: 'running' })
    .count<{ n: string }[]>({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** The first `limit` items that failed or were cancelled, by index, with their child executions. */
export async function failedItems(
  tx: Knex.Transaction,
  key: ForeachKey,
  limit: number,
): Promise<NonNullable<ForeachProgress['failed_items']>> {
  const rows = await tx('foreach_items')
    .where(key)
    .whereIn('status', ['failed', 'cancelled'])
    .orderBy('idx')
    .limit(limit)
    .select('idx', 'child_execution_id', 'status', 'error');
  return rows.map((r: { idx: number; child_execution_id: string | null; status: string; error: string | null }) => ({
    index: r.idx,
    execution_id: r.child_execution_id,
    status: r.status as 'failed' | 'cancelled',
    error: r.error,
  }));
}

/** The next pending items, first by index, locked; items another transaction is starting are skipped. */
export async function lockPendingItems(
  tx: Knex.Transaction,
  key: ForeachKey,
  limit: number,
): Promise<ForeachItemRow[]> {
  return tx<ForeachItemRow>('foreach_items')
    .where({ ...key, status: 'pending' })
    .orderBy('idx')
    .limit(limit)
    .forUpdate()
    .skipLocked();
}

export async function markItemRunning(
  tx: Knex.Transaction,
  key: ForeachKey,
  idx: number,
  childExecutionId: string,
): Promise<void> {
  await tx('foreach_items')
    .where({ ...key, idx })
    .update({ status: 'running', child_execution_id: childExecutionId });
}

/** The item a child execution runs, locked. */
export async function lockItemOfChild(
  tx: Knex.Transaction,
  childExecutionId: string,
): Promise<ForeachItemRow | undefined> {
  return tx<ForeachItemRow>('foreach_items').where({ child_execution_id: childExecutionId }).forUpdate().first();
}

export async function finishItem(
  tx: Knex.Transaction,
  key: ForeachKey,
  idx: number,
  status: 'completed' | 'failed' | 'cancelled',
  result: unknown,
  error: string | null,
): Promise<void> {
  await tx('foreach_items')
    .where({ ...key, idx })
    .update({ status, result: JSON.stringify(result ?? null), error });
}

/** Every item's result in item order, and the errors of those that did not complete. */
export async function foreachResults(
  tx: Knex.Transaction,
  key: ForeachKey,
): Promise<{ results: unknown[]; errors: { index: number; error: string }[] }> {
  const { rows } = await tx.raw(
    `select coalesce(jsonb_agg(case when status = 'completed' then result end order by idx), '[]') as results,
            coalesce(jsonb_agg(jsonb_build_object('index', idx, 'error', coalesce(error, status)) order by idx)
                       filter (where status in ('failed', 'cancelled')), '[]') as errors
       from foreach_items where execution_id = ? and node_id = ?`,
    [key.execution_id, key.node_id],
  );
  return rows[0];
}

/** Changes the keys given of `progress.foreach`, keeping the others (its `failed_items`). */
export async function mergeForeachProgress(
  tx: Knex.Transaction,
  executionId: string,
  progress: Partial<ForeachProgress>,
): Promise<void> {
  await tx('executions')
    .where({ id: executionId })
    .update({
      foreach_progress: tx.raw("coalesce(foreach_progress, '{}'::jsonb) || ?::jsonb", [JSON.stringify(progress)]),
    });
}

/** What the execution shows as `progress.foreach`. */
export async function setForeachProgress(
  tx: Knex.Transaction,
  executionId: string,
  progress: ForeachProgress,
): Promise<void> {
  await tx('executions')
    .where({ id: executionId })
    .update({ foreach_progress: JSON.stringify(progress) });
}
