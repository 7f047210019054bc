import type { Knex } from 'knex';
import type { TaskRow } from '../db/tables';

export const TASKS_CHANNEL = 'flowrunner_tasks';

/** Queues a node attempt and wakes idle workers, in one statement. */
export async function insertTask(
  db: Knex,
  task: { execution_id: string; node_id: string; attempt?: number; run_at?: Date; state?: Record<string, unknown> },
): Promise<void> {
  await db.raw(
    `with t as (insert into tasks (execution_id, node_id, attempt, run_at, state) values (?, ?, ?, coalesce(?::timestamptz, now()), ?::jsonb) returning execution_id)
     select pg_notify(?, execution_id) from t`,
    [
      task.execution_id,
      task.node_id,
      task.attempt ?? 1,
      task.run_at?.toISOString() ?? null,
      task.state ? JSON.stringify(task.state) : null,
      TASKS_CHANNEL,
    ],
  );
}

/** Claims up to `limit` runnable tasks for `owner` under a lease: FOR UPDATE SKIP LOCKED. */
export async function claimTasks(db: Knex, owner: string, limit: number, leaseMs: number): Promise<TaskRow[]> {
  const result = await db.raw(
    `update tasks set lease_owner = ?, lease_expires_at = now() + make_interval(secs => ?)
      where id in (
        select id from tasks
         where run_at <= now() and (lease_expires_at is null or lease_expires_at < now())
         order by run_at, id
         limit ? for update skip locked)
      returning *`,
    [owner, leaseMs / 1000, limit],
  );
  return result.rows as TaskRow[];
}

export async function renewLeases(db: Knex, owner: string, ids: string[], leaseMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db('tasks')
    .whereIn('id', ids)
    .where({ lease_owner: owner })
    .update({ lease_expires_at: db.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]) });
}

export async function releaseLeases(db: Knex, owner: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db('tasks')
    .whereIn('id', ids)
    .where({ lease_owner: owner })
    .update({ lease_owner: null, lease_expires_at: null });
}

/** Removes the task if `owner` still holds it: a worker that lost its lease cannot complete. */
export async function takeLeasedTask(tx: Knex.Transaction, id: string, owner: string): Promise<boolean> {
  return (await tx('tasks').where({ id, lease_owner: owner }).delete()) > 0;
}

/** Puts the task back to sleep until `runAt`, keeping the node's state. */
export async function sleepLeasedTask(
  tx: Knex.Transaction,
  id: string,
  owner: string,
  runAt: Date,
  state: Record<string, unknown>,
): Promise<boolean> {
  const n = await tx('tasks')
    .where({ id, lease_owner: owner })
    .update({ run_at: runAt, state: JSON.stringify(state), lease_owner: null, lease_expires_at: null });
  return n > 0;
}

/** Counts an engine failure on a task `owner` holds; its new count, or undefined when the lease is gone. */
export async function countEngineFailure(db: Knex, id: string, owner: string): Promise<number | undefined> {
  const rows = await db('tasks')
    .where({ id, lease_owner: owner })
    .increment('engine_failures', 1)
    .returning<{ engine_failures: number }[]>('engine_failures');
  return rows[0]?.engine_failures;
}

export async function deleteExecutionTasks(tx: Knex.Transaction, executionId: string): Promise<TaskRow[]> {
  return tx<TaskRow>('tasks').where({ execution_id: executionId }).delete().returning('*');
}

/** When the next not-yet-due task becomes runnable, to sleep until then. */
export async function nextRunAt(db: Knex): Promise<Date | undefined> {
  const row = await db('tasks').whereNull('lease_owner').min<{ min: Date | null }>({ min: 'run_at' }).first();
  return row?.min ?? undefined;
}
