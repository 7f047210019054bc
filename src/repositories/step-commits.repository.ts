/**
 * The engine's hot path: the results of many steps in one statement. Each step's task is taken
 * only while `owner` still holds its lease, and its execution is changed only while it is still
 * queued or running; a step for which either fails writes nothing and is left out of the answer.
 * Columns are merged, not replaced (node outputs, state values), events are numbered from the
 * execution's counter under the row lock the update takes, listeners get their deliveries, and
 * one NOTIFY per channel tells the other processes.
 */
import type { Knex } from 'knex';
import { runPrepared, type PreparedStatement } from '../db/prepared';
import type { ExecutionRow, ExecutionStatus, TaskRow } from '../db/tables';
import { DELIVERIES_CHANNEL, EVENTS_CHANNEL, type NewEvent } from './events.repository';
import type { NewStepRow } from './steps.repository';
import { TASKS_CHANNEL } from './tasks.repository';

/** What one step writes: the execution's changes (merged), its events, its step row, its next task. */
export interface StepChanges {
  taskId: string;
  executionId: string;
  status: ExecutionStatus | null;
  startedAt: Date | null;
  currentNode: string;
  /** When the node began, on a fresh attempt (else the column stays). */
  nodeStartedAt: Date | null;
  /** node_outputs entries this step sets. */
  outputs: Record<string, unknown> | null;
  /** state_values entries this step sets. */
  values: Record<string, unknown> | null;
  result: unknown;
  error: string | null;
  completedAt: Date | null;
  /** Masked, in order. */
  events: NewEvent[];
}

export interface StepWrite extends StepChanges {
  /** The steps' rows, in order: one, or several nodes that computed one after another in memory (see the runner). */
  steps: (NewStepRow & { id: string })[];
  next: { node: string; attempt: number; runAt?: Date; leased: boolean } | null;
}

export interface StepWriteOutcome {
  /** Indexes into the writes that were applied. */
  applied: Set<number>;
  /** The next tasks, by the index of the write that queued them. */
  next: Map<number, TaskRow>;
  /** The executions these writes finished (completed or failed), as committed and as reads attribute them, by the write's index. */
  finished: Map<number, ExecutionRow>;
}

/**
 * The statement that inserts the step rows of the items' `steps` arrays (jsonb, in order), for
 * the batch statements: `executionId` names each row's execution in `from`, which joins `items i`.
 */
export function insertStepRows(executionId: string, from: string): string {
  return `insert into steps (id, execution_id, node_id, node_type, attempt, status, input, output, error, actor_id,
                     started_at, completed_at)
  select s.step->>'id', ${executionId}, s.step->>'node_id', s.step->>'node_type', (s.step->>'attempt')::int,
         s.step->>'status', s.step->'input', s.step->'output', s.step->>'error', s.step->>'actor_id',
         (s.step->>'started_at')::timestamptz, (s.step->>'completed_at')::timestamptz
    from ${from} cross join lateral jsonb_array_elements(i.steps) as s(step)
  returning 1`;
}

const WRITE_STEPS: PreparedStatement = {
  name: 'flowrunner_write_steps_v7',
  text: `
with items as (
  select * from jsonb_to_recordset($1::jsonb) as i(
    k int, task_id bigint, execution_id text, status text, started_at timestamptz, current_node text, node_started_at timestamptz,
    outputs jsonb, vals jsonb, result jsonb, error text, completed_at timestamptz, events jsonb, steps jsonb,
    next_node text, next_attempt int, next_run_at timestamptz, next_leased boolean)
), taken as (
  delete from tasks t using items i where t.id = i.task_id and t.lease_owner = $2::text returning i.k
), ex as (
  update executions e set
    status = coalesce(i.status, e.status),
    started_at = coalesce(e.started_at, i.started_at),
    current_node = i.current_node,
    node_started_at = coalesce(i.node_started_at, e.node_started_at),
    waiting_until = null,
    node_outputs = e.node_outputs || coalesce(i.outputs, '{}'),
    state_values = e.state_values || coalesce(i.vals, '{}'),
    step_count = e.step_count + jsonb_array_length(i.steps),
    result = case when i.status = 'completed' then i.result else e.result end,
    error = case when i.status = 'failed' then i.error else e.error end,
    completed_at = coalesce(i.completed_at, e.completed_at),
    event_seq = e.event_seq + jsonb_array_length(i.events)
  from items i join taken on taken.k = i.k
  where e.id = i.execution_id and e.status in ('queued', 'running')
  returning i.k, e.id, e.flow_id, e.account_id, e.event_seq,
            case when e.status in ('completed', 'failed', 'cancelled') then to_jsonb(e) || jsonb_build_object(
              'started_by_email', (select a.email from accounts a where a.id = e.started_by),
              'flow_name', (select f.name from flows f where f.id = e.flow_id)) end as finished
), ev as (
  insert into events (execution_id, seq, type, level, payload, created_at)
  select ex.id, ex.event_seq - jsonb_array_length(i.events) + u.ord, u.e->>'type', u.e->>'level', u.e->'payload',
         (u.e->>'at')::timestamptz
    from ex join items i on i.k = ex.k
   cross join lateral jsonb_array_elements(i.events) with ordinality as u(e, ord)
  returning id, execution_id, seq, type
), lst as (
  -- Read after the update's row locks, with a snapshot of its own (see the function's migration).
  select l.* from (select array_agg(ex.id) as ids, array_agg(ex.flow_id) as flows from ex) a
   cross join lateral flowrunner_listeners_of_executions(a.ids, a.flows) l
), dl as (
  insert into deliveries (listener_id, event_id)
  select lst.listener_id, ev.id from ev join lst on lst.execution_id = ev.execution_id
   where lst.events is null or ev.type = any(lst.events)
   order by ev.execution_id, ev.seq, lst.listener_id
  returning 1
), st as (
  ${insertStepRows('ex.id', 'ex join items i on i.k = ex.k')}
), nt as (
  insert into tasks (execution_id, account_id, node_id, attempt, run_at, lease_owner, lease_expires_at)
  select ex.id, ex.account_id, i.next_node, i.next_attempt, coalesce(i.next_run_at, now()),
         case when i.next_leased then $3::text end,
         case when i.next_leased then now() + make_interval(secs => $4::float8) end
    from ex join items i on i.k = ex.k
   where i.next_node is not null
  returning *
), told as (
  select (select pg_notify($5::text, string_agg(ex.id || ':' || ex.event_seq, ',')) from ex) as events,
         (select pg_notify($6::text, '') from dl limit 1) as deliveries,
         (select pg_notify($7::text, '') from nt where nt.lease_owner is null limit 1) as tasks
)
select ex.k, row_to_json(nt.*) as next, ex.finished from ex left join nt on nt.execution_id = ex.id cross join told`,
};

/** A step's columns as the statements' `jsonb_to_recordset` items take them (see WRITE_STEPS). */
export function stepItem(w: Omit<StepWrite, 'taskId'>) {
  return {
    execution_id: w.executionId,
    status: w.status,
    started_at: w.startedAt,
    current_node: w.currentNode,
    node_started_at: w.nodeStartedAt,
    outputs: w.outputs,
    vals: w.values,
    result: w.result === undefined ? null : w.result,
    error: w.error,
    completed_at: w.completedAt,
    events: w.events.map((e) => ({ type: e.type, level: e.level ?? null, payload: e.payload, at: e.at ?? new Date() })),
    steps: w.steps,
    next_node: w.next?.node ?? null,
    next_attempt: w.next?.attempt ?? null,
    next_run_at: w.next?.runAt ?? null,
    next_leased: w.next?.leased ?? false,
  };
}

/** A written step's index, and its next task as JSON (timestamps as text). */
export interface WrittenRow {
  k: number;
  next: (Omit<TaskRow, 'run_at' | 'lease_expires_at'> & { run_at: string; lease_expires_at: string | null }) | null;
  /** The execution's row when this step finished it (JSON: timestamps as text). */
  finished: (Omit<ExecutionRow, TimestampColumn> & Record<TimestampColumn, string | null>) | null;
}

type TimestampColumn = 'created_at' | 'started_at' | 'completed_at' | 'node_started_at' | 'waiting_until';

/** Writes the steps; at most ~150 at once (the NOTIFY payload names each execution). */
export async function writeSteps(
  db: Knex,
  owner: string,
  leaseMs: number,
  writes: StepWrite[],
): Promise<StepWriteOutcome> {
  const items = writes.map((w, k) => ({ k, task_id: w.taskId, ...stepItem(w) }));
  const result = await runPrepared<WrittenRow>(db, WRITE_STEPS, [
    JSON.stringify(items),
    owner,
    owner,
    leaseMs / 1000,
    EVENTS_CHANNEL,
    DELIVERIES_CHANNEL,
    TASKS_CHANNEL,
  ]);
  const applied = new Set<number>();
  const next = new Map<number, TaskRow>();
  const finished = new Map<number, ExecutionRow>();
  for (const row of result.rows) {
    applied.add(row.k);
    if (row.finished) finished.set(row.k, finishedRow(row.finished));
    if (row.next) next.set(row.k, nextTask(row.next));
  }
  return { applied, next, finished };
}

/** A finished execution's row as the statements answer it (JSON: timestamps as text). */
export function finishedRow(json: NonNullable<WrittenRow['finished']>): ExecutionRow {
  return {
    ...json,
    created_at: new Date(json.created_at!),
    started_at: dateOrNull(json.started_at),
    completed_at: dateOrNull(json.completed_at),
    node_started_at: dateOrNull(json.node_started_at),
    waiting_until: dateOrNull(json.waiting_until),
  };
}

/** A next task as the statements answer it (JSON: timestamps as text). */
export function nextTask(json: NonNullable<WrittenRow['next']>): TaskRow {
  return {
    ...json,
    run_at: new Date(json.run_at),
    lease_expires_at: json.lease_expires_at ? new Date(json.lease_expires_at) : null,
  };
}

const dateOrNull = (text: string | null): Date | null => (text === null ? null : new Date(text));
