import type { Knex } from 'knex';
import { runPrepared, type PreparedStatement } from '../db/prepared';
import type { ExecutionRow, TaskRow } from '../db/tables';

export const TASKS_CHANNEL = 'flowrunner_tasks';

/** Queues a node attempt and wakes idle workers, in one statement. */
export async function insertTask(
  db: Knex,
  task: { execution_id: string; node_id: string; attempt?: number; run_at?: Date; state?: Record<string, unknown> },
): Promise<void> {
  await db.raw(
    `with t as (
       insert into tasks (execution_id, account_id, node_id, attempt, run_at, state)
       select e.id, e.account_id, ?, ?, coalesce(?::timestamptz, now()), ?::jsonb from executions e where e.id = ?
       returning execution_id)
     select pg_notify(?, execution_id) from t`,
    [
      task.node_id,
      task.attempt ?? 1,
      task.run_at?.toISOString() ?? null,
      task.state ? JSON.stringify(task.state) : null,
      task.execution_id,
      TASKS_CHANNEL,
    ],
  );
}

/** A claimed task with the execution it belongs to, read in the same statement. */
export interface ClaimedTask {
  task: TaskRow;
  execution: ExecutionRow;
}

export const TASK_COLUMNS = [
  'id',
  'execution_id',
  'account_id',
  'node_id',
  'attempt',
  'run_at',
  'lease_owner',
  'lease_expires_at',
  'state',
  'engine_failures',
] as const;

const READY = 'lease_owner is null and run_at <= now()';

const CLAIM_TASKS: PreparedStatement = {
  name: 'flowrunner_claim_tasks_v2',
  text: `with recursive first as (
       select coalesce(
         (select account_id from tasks where ${READY} and account_id > $4::text order by account_id limit 1),
         (select account_id from tasks where ${READY} order by account_id limit 1)) as account_id
     ), accounts(account_id, n) as (
       select account_id, 1 from first where account_id is not null
       union all
       select nxt.account_id, a.n + 1
         from accounts a cross join lateral (
           select coalesce(
             (select t.account_id from tasks t where t.${READY} and t.account_id > a.account_id
               order by t.account_id limit 1),
             (select t.account_id from tasks t where t.${READY} order by t.account_id limit 1)) as account_id) nxt
        where a.n < $1::int and nxt.account_id <> (select account_id from first)
     ), offered as (
       select o.id, o.turn, a.n
         from accounts a cross join lateral (
           select f.id, row_number() over (order by f.run_at, f.id) as turn
             from (select t.id, t.run_at from tasks t
                    where t.account_id = a.account_id and t.${READY}
                    order by t.run_at, t.id limit $1::int for update skip locked) f) o
        order by o.turn, a.n
        limit $1::int
     ), claimed as (
       update tasks t set lease_owner = $2::text, lease_expires_at = now() + make_interval(secs => $3::float8)
         from offered where t.id = offered.id
       returning ${TASK_COLUMNS.map((c) => `t.${c}`).join(', ')}, offered.turn, offered.n
     )
     select ${TASK_COLUMNS.map((c) => `c.${c} as task_${c}`).join(', ')}, e.*
       from claimed c join executions e on e.id = c.execution_id
      order by c.turn, c.n`,
};

/**
 * Claims up to `limit` runnable tasks for `owner` under a lease, taking accounts in turn: the
 * accounts with ready tasks are walked through the index (a loose index scan, at most `limit` of
 * them) starting after `after` — the account this worker served last — and wrapping around; each
 * offers its oldest tasks, and the claim takes the first of every account, then the second, and
 * so on. One account's backlog of thousands therefore never stands in front of another account's
 * task, whichever account is older, even when a worker claims one task at a time. Returns each
 * task with its execution row, in the order taken.
 */
export async function claimTasks(
  db: Knex,
  owner: string,
  limit: number,
  leaseMs: number,
  after = '',
): Promise<ClaimedTask[]> {
  const result = await runPrepared<Record<string, unknown>>(db, CLAIM_TASKS, [limit, owner, leaseMs / 1000, after]);
  return (result.rows as Record<string, unknown>[]).map(splitClaimed);
}

/** `task_*` columns and an execution's columns, selected side by side, as a task and its execution. */
export function splitClaimed(row: Record<string, unknown>): ClaimedTask {
  const task: Record<string, unknown> = {};
  const execution: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k.startsWith('task_')) task[k.slice(5)] = v;
    else execution[k] = v;
  }
  return { task: task as unknown as TaskRow, execution: execution as unknown as ExecutionRow };
}

/**
 * Returns the tasks whose lease expired (their worker died or stalled) to the unleased pool, where
 * any worker may claim them. Their old holder can no longer complete them: completion checks the owner.
 */
export async function reapExpiredLeases(db: Knex): Promise<number> {
  const result = await db.raw(
    `with reaped as (
       update tasks set lease_owner = null, lease_expires_at = null
        where lease_owner is not null and lease_expires_at < now()
       returning execution_id)
     select count(*)::int as n, (select pg_notify(?, '') from reaped limit 1) from reaped`,
    [TASKS_CHANNEL],
  );
  return (result.rows[0]?.n as number) ?? 0;
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

/** Locks the task if `owner` still holds it; false when the lease is gone. */
export async function lockLeasedTask(tx: Knex.Transaction, id: string, owner: string): Promise<boolean> {
  return (await tx('tasks').where({ id, lease_owner: owner }).forUpdate().first('id')) !== undefined;
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
  const result = await db.raw('select run_at from tasks where lease_owner is null order by run_at limit 1');
  return (result.rows[0]?.run_at as Date | undefined) ?? undefined;
}
