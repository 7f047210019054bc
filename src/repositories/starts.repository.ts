/**
 * The start path's hot statement: many new executions in one statement, each with its `queued`
 * event (seq 1), the deliveries of its flow's listeners, and its entry task, which is leased to a
 * local worker when one takes it over in memory (else left for any worker, who is notified).
 */
import type { Knex } from 'knex';
import type { FlowRequestSnapshot } from '../db/tables';
import { runPrepared, type PreparedStatement } from '../db/prepared';
import { DELIVERIES_CHANNEL, EVENTS_CHANNEL } from './events.repository';
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
}

const QUEUED = { status: 'queued', node_id: null, node_type: null };

const INSERT_STARTS: PreparedStatement = {
  name: 'flowrunner_insert_starts_v5',
  text: `with items as (
       select * from jsonb_to_recordset($1::jsonb) as i(
         k int, id text, account_id text, organization_id text, flow_id text, flow_version int, entry text, nodes_total int,
         input jsonb, client_id text, started_by text, flow_request jsonb, stage text, name text, leased_to text)
     ), ex as (
       insert into executions (id, account_id, organization_id, flow_id, flow_version, status, client_id, input, started_by,
                               event_seq, nodes_total, flow_request, stage, name)
       select id, account_id, organization_id, flow_id, flow_version, 'queued', client_id, input, started_by, 1,
              nodes_total, flow_request, stage, name
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
