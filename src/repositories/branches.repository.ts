/** A parallel's join row (its branches' arrivals, locked by each arrival) and cancelling branches' tasks. */
import type { Knex } from 'knex';
import type { TaskRow } from '../db/tables';

export interface JoinRow {
  execution_id: string;
  join_node: string;
  parallel_node: string;
  branches: string[];
  outcomes: Record<string, { status: 'completed' | 'failed' | 'cancelled'; output: unknown; error: string | null }>;
  fired: boolean;
}

/** Workers abort the running steps of the tasks this channel names (comma-separated ids). */
export const ABORT_TASKS_CHANNEL = 'flowrunner_abort_tasks';

/** Opens (or, when the parallel runs again, resets) the join of a parallel's branches. */
export async function openJoin(
  tx: Knex.Transaction,
  row: Pick<JoinRow, 'execution_id' | 'join_node' | 'parallel_node' | 'branches'>,
): Promise<void> {
  await tx.raw(
    `insert into parallel_joins (execution_id, join_node, parallel_node, branches)
     values (?, ?, ?, ?::text[])
     on conflict (execution_id, join_node) do update
       set parallel_node = excluded.parallel_node, branches = excluded.branches, outcomes = '{}', fired = false`,
    [row.execution_id, row.join_node, row.parallel_node, row.branches],
  );
}

/** The join row, locked: arrivals that happen together take turns here. */
export async function lockJoin(
  tx: Knex.Transaction,
  executionId: string,
  joinNode: string,
): Promise<JoinRow | undefined> {
  return tx<JoinRow>('parallel_joins').where({ execution_id: executionId, join_node: joinNode }).forUpdate().first();
}

export async function saveArrivals(
  tx: Knex.Transaction,
  executionId: string,
  joinNode: string,
  outcomes: JoinRow['outcomes'],
  fired: boolean,
): Promise<void> {
  await tx('parallel_joins')
    .where({ execution_id: executionId, join_node: joinNode })
    .update({ outcomes: JSON.stringify(outcomes), fired });
}

/** Removes the execution's tasks at these nodes (the branches being cancelled); the rows removed. */
export async function deleteTasksAtNodes(
  tx: Knex.Transaction,
  executionId: string,
  nodeIds: string[],
): Promise<TaskRow[]> {
  if (nodeIds.length === 0) return [];
  return tx<TaskRow>('tasks').where({ execution_id: executionId }).whereIn('node_id', nodeIds).delete().returning('*');
}

/** Tells every worker, once `tx` commits, to abort the steps of these tasks (their HTTP calls too). */
export async function notifyAbortTasks(tx: Knex.Transaction, taskIds: string[]): Promise<void> {
  // A NOTIFY payload holds under 8000 bytes: a few hundred ids each.
  for (let i = 0; i < taskIds.length; i += 200)
    await tx.raw('select pg_notify(?, ?)', [ABORT_TASKS_CHANNEL, taskIds.slice(i, i + 200).join(',')]);
}
