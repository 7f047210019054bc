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

/**
 * Claims the next pending items, first by index (items another transaction is starting are
 * skipped), and marks them running in the same statement: a new item takes the next of `ids` as
 * its child execution's id (the caller creates that execution), an item being retried keeps its
 * child (`resumed`).
 */
export async function claimPendingItems(
  tx: Knex.Transaction,
  key: ForeachKey,
  ids: string[],
): Promise<(Pick<ForeachItemRow, 'idx' | 'item' | 'child_execution_id'> & { resumed: boolean })[]> {
  const { rows } = await tx.raw(
    // The update finds the rows it locked by their ctid (they cannot move while locked): joined by
    // key, a plan made on a fresh run's statistics walked every item of the run for each claim.
    `with c as (
       select ctid, idx, child_execution_id from foreach_items
        where execution_id = ? and node_id = ? and status = 'pending'
        order by idx limit ? for update skip locked
     ), n as (
       select ctid, idx, child_execution_id, row_number() over (order by idx) as rn from c
     )
     update foreach_items f
        set status = 'running', child_execution_id = coalesce(n.child_execution_id, (?::text[])[n.rn::int])
       from n
      where f.ctid = n.ctid
     returning f.idx, f.item, f.child_execution_id, n.child_execution_id is not null as resumed`,
    [key.execution_id, key.node_id, ids.length, ids],
  );
  const claimed = rows as (Pick<ForeachItemRow, 'idx' | 'item' | 'child_execution_id'> & { resumed: boolean })[];
  return claimed.sort((x, y) => x.idx - y.idx);
}

/**
 * Claimed items that must wait after all: pending again. Those of `unstarted` lose the child
 * started for them in this transaction; the others (retried items) keep theirs.
 */
export async function unclaimItems(
  tx: Knex.Transaction,
  key: ForeachKey,
  indexes: number[],
  unstarted: number[] = [],
): Promise<void> {
  if (indexes.length === 0) return;
  await tx('foreach_items')
    .where(key)
    .whereIn('idx', indexes)
    .update({
      status: 'pending',
      child_execution_id: tx.raw('case when idx = any(?::int[]) then null else child_execution_id end', [unstarted]),
    });
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

/** What starting an iteration reads of its parent. */
export interface ItemParent {
  id: string;
  account_id: string;
  /** Its iterations run in it: with its secrets and connections. */
  organization_id: string;
  input: Record<string, unknown>;
  started_by: string | null;
  depth: number;
}

/** An item whose child just ended, its run as it stands (not locked), and its parent (not locked). */
export interface EndedItem {
  /** The child execution that ran it. */
  child: string;
  idx: number;
  run: Pick<ForeachRunRow, 'execution_id' | 'node_id' | 'status' | 'on_item_error' | 'body' | 'retried_by'>;
  parent: ItemParent;
}

/** How a child execution ended, as its item records it. */
export interface ItemEnd {
  child: string;
  status: 'completed' | 'failed' | 'cancelled';
  result: unknown;
  error: string | null;
}

/**
 * Records the ends of the running items that child executions ran, in one statement that also
 * reads each one's run and parent (what starting the next items needs); a child that runs no
 * running item (a subflow's child, or an item already ended) is not in the answer.
 */
export async function finishItemsOfChildren(tx: Knex.Transaction, ends: ItemEnd[]): Promise<EndedItem[]> {
  const { rows } = await tx.raw(
    // The items are looked up by their children through `= any` (a join clause alone did not
    // let the planner use the partial index by child: it scanned every item of the run).
    `update foreach_items i set status = e.status, result = e.result, error = e.error
       from unnest(?::text[], ?::text[], ?::jsonb[], ?::text[]) as e(child, status, result, error),
            foreach_runs r, executions p
      where i.child_execution_id = any(?::text[]) and i.child_execution_id = e.child and i.status = 'running'
        and r.execution_id = i.execution_id and r.node_id = i.node_id and p.id = i.execution_id
     returning i.child_execution_id, i.idx, i.execution_id, i.node_id, r.status, r.on_item_error, r.body,
               r.retried_by, p.account_id, p.organization_id, p.input, p.started_by, p.depth`,
    [
      ends.map((e) => e.child),
      ends.map((e) => e.status),
      ends.map((e) => JSON.stringify(e.result ?? null)),
      ends.map((e) => e.error) as string[],
      ends.map((e) => e.child),
    ],
  );
  return rows.map((row: Record<string, never>) => ({
    child: row.child_execution_id,
    idx: row.idx,
    run: {
      execution_id: row.execution_id,
      node_id: row.node_id,
      status: row.status,
      on_item_error: row.on_item_error,
      body: row.body,
      retried_by: row.retried_by,
    },
    parent: {
      id: row.execution_id,
      account_id: row.account_id,
      organization_id: row.organization_id,
      input: row.input,
      started_by: row.started_by,
      depth: row.depth,
    },
  }));
}

/**
 * Counts `ended` items, `failed` of them failed or cancelled, on their run and the parent's
 * `progress.foreach`, in one statement, under the parent's row lock (taken first) and the run's:
 * only while the parent has not ended and the run is running (else undefined). The run becomes
 * `failed` when a failed item stops it (`on_item_error: fail`), `completed` with its last item;
 * `due` says a progress event is due (its last one at least `eventMs` ago, or the run ended).
 */
export async function countItemEnds(
  tx: Knex.Transaction,
  key: ForeachKey,
  ended: number,
  failed: number,
  now: Date,
  eventMs: number,
): Promise<(ForeachRunRow & { due: boolean }) | undefined> {
  const { rows } = await tx.raw(
    `with p as (
       select id from executions
        where id = ? and status not in ('completed', 'failed', 'cancelled') for update
     ), r as (
       update foreach_runs set
              done = done + ?,
              failed = failed + ?,
              status = case when ? and on_item_error = 'fail' then 'failed'
                            when done + ? >= total then 'completed' else status end,
              last_event_at = case when (? and on_item_error = 'fail') or done + ? >= total
                                     or last_event_at is null or last_event_at <= ?::timestamptz
                                   then ?::timestamptz else last_event_at end
        where execution_id = ? and node_id = ? and status = 'running' and exists (select 1 from p)
       returning *
     ), e as (
       update executions x
          set foreach_progress = coalesce(x.foreach_progress, '{}'::jsonb)
                || jsonb_build_object('node_id', r.node_id, 'done', r.done, 'total', r.total, 'failed', r.failed)
         from r where x.id = r.execution_id
     )
     select r.*, r.last_event_at = ?::timestamptz as due from r`,
    [
      key.execution_id,
      ended,
      failed,
      failed > 0,
      ended,
      failed > 0,
      ended,
      new Date(now.getTime() - eventMs),
      now,
      key.execution_id,
      key.node_id,
      now,
    ],
  );
  return rows[0];
}

/** The item a child execution runs, locked. */
export async function lockItemOfChild(
  tx: Knex.Transaction,
  childExecutionId: string,
): Promise<ForeachItemRow | undefined> {
  return tx<ForeachItemRow>('foreach_items').where({ child_execution_id: childExecutionId }).forUpdate().first();
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
