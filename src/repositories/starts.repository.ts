/**
 * The start path's hot statement: many new executions in one statement, each with its `queued`
 * event (seq 1), the deliveries of its flow's listeners, and its entry task, which is leased to a
 * local worker when one takes it over in memory (else left for any worker, who is notified).
 */
import type { Knex } from 'knex';
import type { ExecutionRow, FlowRequestSnapshot, TaskRow } from '../db/tables';
import { runPrepared, type PreparedStatement } from '../db/prepared';
import { DELIVERIES_CHANNEL, EVENTS_CHANNEL } from './events.repository';
import { FINISHED_CHANNEL } from './finished-executions.repository';
import {
  finishedRow,
  insertStepRows,
  nextTask,
  stepItem,
  type StepWrite,
  type WrittenRow,
} from './step-commits.repository';
import { splitClaimed, TASK_COLUMNS, TASKS_CHANNEL, type ClaimedTask } from './tasks.repository';

export interface NewStart {
  id: string;
  account_id: string;
  /** Its flow's organization (when absent, a trigger puts the account's personal one). */
  organization_id?: string;
  flow_id: string;
  flow_version: number;
  entry: string;
  /** The number of nodes of its definition (its progress's `nodes_total`). */
  nodes_total: number;
  input: Record<string, unknown>;
  client_id: string | null;
  started_by: string | null;
  /** The flow request it carries out, as it is at the start. */
  flow_request: FlowRequestSnapshot | null;
  /** The stage it was started on, and the run's name (issue 15). */
  stage: 'draft' | 'live';
  name: string | null;
  /** Lease the entry task to this worker. */
  leased_to: string | null;
  /** A foreach's iteration: its parent, its depth under it, and which iteration it is. */
  parent_execution_id?: string | null;
  depth?: number;
  iteration?: ExecutionRow['iteration'];
}

/** The payload of every execution's first event (seq 1). */
const QUEUED = { status: 'queued', node_id: null, node_type: null };

const INSERT_STARTS: PreparedStatement = {
  name: 'flowrunner_insert_starts_v6',
  text: `with items as (
       select * from jsonb_to_recordset($1::jsonb) as i(
         k int, id text, account_id text, organization_id text, flow_id text, flow_version int, entry text, nodes_total int,
         input jsonb, client_id text, started_by text, flow_request jsonb, stage text, name text, leased_to text,
         parent_execution_id text, depth int, iteration jsonb)
     ), ex as (
       insert into executions (id, account_id, organization_id, flow_id, flow_version, status, client_id, input, started_by,
                               event_seq, nodes_total, flow_request, stage, name, parent_execution_id, depth, iteration)
       select id, account_id, organization_id, flow_id, flow_version, 'queued', client_id, input, started_by, 1,
              nodes_total, flow_request, stage, name, parent_execution_id, coalesce(depth, 0), iteration
         from items order by k
       returning *
     ), ev as (
       insert into events (execution_id, seq, type, payload)
       select id, 1, 'execution_update', $2::jsonb from items
       returning id, execution_id, type
     ), dl as (
       insert into deliveries (listener_id, event_id)
       select l.id, ev.id from ev join items i on i.id = ev.execution_id
         join listeners l on l.flow_id = i.flow_id
        where l.events is null or ev.type = any(l.events)
        order by ev.execution_id, l.id
       returning 1
     ), nt as (
       insert into tasks (execution_id, account_id, node_id, lease_owner, lease_expires_at)
       select id, account_id, entry, leased_to,
              case when leased_to is not null then now() + make_interval(secs => $3::float8) end
         from items
       returning *
     ), told as (
       select (select pg_notify($4::text, string_agg(id || ':1', ',')) from items) as events,
              (select pg_notify($5::text, '') from dl limit 1) as deliveries,
              (select pg_notify($6::text, '') from nt where nt.lease_owner is null limit 1) as tasks
     )
     select ${TASK_COLUMNS.map((c) => `nt.${c} as task_${c}`).join(', ')}, ex.*
       from ex join nt on nt.execution_id = ex.id cross join told`,
};

/** Inserts the starts in one statement (atomic on its own); each with its task, in the order given. */
export async function insertStarts(db: Knex, starts: NewStart[], leaseMs: number): Promise<ClaimedTask[]> {
  const result = await runPrepared<Record<string, unknown>>(db, INSERT_STARTS, [
    JSON.stringify(starts.map((s, k) => ({ k, ...s }))),
    JSON.stringify(QUEUED),
    leaseMs / 1000,
    EVENTS_CHANNEL,
    DELIVERIES_CHANNEL,
    TASKS_CHANNEL,
  ]);
  const byId = new Map((result.rows as Record<string, unknown>[]).map((r) => [r.id as string, splitClaimed(r)]));
  return starts.map((s) => byId.get(s.id)!);
}

/**
 * A start whose entry step ran before anything was written (an inline start, see the engine's
 * starter): its execution is inserted as that step leaves it, with the start's event and the
 * step's, its step row and its next task, if any.
 */
export interface SteppedStart {
  start: NewStart;
  /** When it was created (the plan's times come after it). */
  createdAt: Date;
  /** The entry step (and the computing steps after it), as the step batch would write them (its task was never inserted). */
  step: Omit<StepWrite, 'taskId'>;
}

/** What a stepped start committed: its next task (leased to `owner` when handed over), or its row when it finished. */
export interface SteppedOutcome {
  next?: TaskRow;
  finished?: ExecutionRow;
}

const INSERT_STEPPED_STARTS: PreparedStatement = {
  name: 'flowrunner_insert_stepped_starts_v1',
  text: `with items as (
       select * from jsonb_to_recordset($1::jsonb) as i(
         k int, id text, account_id text, organization_id text, flow_id text, flow_version int, nodes_total int,
         input jsonb, client_id text, started_by text, flow_request jsonb, stage text, name text, created_at timestamptz,
         status text, started_at timestamptz, current_node text, node_started_at timestamptz, outputs jsonb, vals jsonb,
         result jsonb, error text, completed_at timestamptz, events jsonb, steps jsonb,
         next_node text, next_attempt int, next_run_at timestamptz, next_leased boolean)
     ), ex as (
       insert into executions (id, account_id, organization_id, flow_id, flow_version, status, client_id, input, started_by,
                               nodes_total, flow_request, stage, name, created_at, started_at, current_node, node_started_at,
                               node_outputs, state_values, step_count, result, error, completed_at, event_seq)
       select id, account_id, organization_id, flow_id, flow_version, coalesce(status, 'queued'), client_id, input, started_by,
              nodes_total, flow_request, stage, name, created_at, started_at, current_node, node_started_at,
              coalesce(outputs, '{}'), coalesce(vals, '{}'), jsonb_array_length(steps),
              case when status = 'completed' then result end, case when status = 'failed' then error end,
              completed_at, jsonb_array_length(events)
         from items order by k
       returning *
     ), ev as (
       insert into events (execution_id, seq, type, level, payload, created_at)
       select i.id, u.ord, u.e->>'type', u.e->>'level', u.e->'payload', (u.e->>'at')::timestamptz
         from items i cross join lateral jsonb_array_elements(i.events) with ordinality as u(e, ord)
       returning id, execution_id, seq, type
     ), dl as (
       insert into deliveries (listener_id, event_id)
       select l.id, ev.id from ev join items i on i.id = ev.execution_id
         join listeners l on l.flow_id = i.flow_id
        where l.events is null or ev.type = any(l.events)
        order by ev.execution_id, ev.seq, l.id
       returning 1
     ), st as (
       ${insertStepRows('i.id', 'items i')}
     ), nt as (
       insert into tasks (execution_id, account_id, node_id, attempt, run_at, lease_owner, lease_expires_at)
       select i.id, i.account_id, i.next_node, i.next_attempt, coalesce(i.next_run_at, now()),
              case when i.next_leased then $2::text end,
              case when i.next_leased then now() + make_interval(secs => $3::float8) end
         from items i
        where i.next_node is not null
       returning *
     ), told as (
       select (select pg_notify($4::text, string_agg(ex.id || ':' || ex.event_seq, ',')) from ex) as events,
              (select pg_notify($5::text, '') from dl limit 1) as deliveries,
              (select pg_notify($6::text, '') from nt where nt.lease_owner is null limit 1) as tasks,
              -- Inserted final, so the trigger that announces finished executions (on update) did not see them.
              (select pg_notify($7::text, string_agg(ex.id, ',')) from ex
                where ex.status in ('completed', 'failed', 'cancelled')) as finished
     )
     select i.k, row_to_json(nt.*) as next,
            case when ex.status in ('completed', 'failed', 'cancelled') then to_jsonb(ex) || jsonb_build_object(
              'started_by_email', (select a.email from accounts a where a.id = ex.started_by),
              'flow_name', (select f.name from flows f where f.id = ex.flow_id)) end as finished
       from ex join items i on i.id = ex.id left join nt on nt.execution_id = ex.id cross join told`,
};

/**
 * Inserts the stepped starts in one statement (atomic on its own; at most ~150, as the NOTIFY
 * payloads name each execution); their outcomes in the order given.
 */
export async function insertSteppedStarts(
  db: Knex,
  owner: string,
  leaseMs: number,
  starts: SteppedStart[],
): Promise<SteppedOutcome[]> {
  const items = starts.map(({ start, createdAt, step }, k) => {
    const { entry: _entry, leased_to: _leased, ...columns } = start;
    const first = { type: 'execution_update', level: null, payload: QUEUED, at: createdAt };
    const item = stepItem(step);
    return { k, ...columns, created_at: createdAt, ...item, events: [first, ...item.events] };
  });
  const result = await runPrepared<WrittenRow>(db, INSERT_STEPPED_STARTS, [
    JSON.stringify(items),
    owner,
    leaseMs / 1000,
    EVENTS_CHANNEL,
    DELIVERIES_CHANNEL,
    TASKS_CHANNEL,
    FINISHED_CHANNEL,
  ]);
  const outcomes: SteppedOutcome[] = starts.map(() => ({}));
  for (const row of result.rows)
    outcomes[row.k] = {
      next: row.next ? nextTask(row.next) : undefined,
      finished: row.finished ? finishedRow(row.finished) : undefined,
    };
  return outcomes;
}

/**
 * The execution row and entry task `insertStarts` would write for this start, before anything is
 * written: what an inline start's entry step runs on (the task's id is never used).
 */
export function queuedClaim(start: NewStart, createdAt: Date): ClaimedTask {
  const execution: ExecutionRow = {
    id: start.id,
    account_id: start.account_id,
    organization_id: start.organization_id!,
    flow_id: start.flow_id,
    flow_version: start.flow_version,
    status: 'queued',
    client_id: start.client_id,
    input: start.input,
    result: null,
    error: null,
    current_node: null,
    node_outputs: {},
    state_values: {},
    step_count: 0,
    event_seq: 1,
    parent_execution_id: null,
    started_by: start.started_by,
    flow_request: start.flow_request,
    input_files: null,
    depth: 0,
    approval_status: null,
    waiting_for: null,
    trigger: null,
    created_at: createdAt,
    started_at: null,
    completed_at: null,
    node_started_at: null,
    waiting_until: null,
    nodes_total: start.nodes_total,
    stage: start.stage,
    name: start.name,
    rerun_of: null,
    retries: 0,
    concurrency_key: null,
    iteration: null,
    foreach_progress: null,
  };
  const task: TaskRow = {
    id: '0',
    execution_id: start.id,
    account_id: start.account_id,
    node_id: start.entry,
    attempt: 1,
    run_at: createdAt,
    lease_owner: start.leased_to,
    lease_expires_at: null,
    state: null,
    engine_failures: 0,
  };
  return { execution, task };
}
