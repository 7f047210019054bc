/** Executions, runs, events, logs, steps and pinned definitions as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { EventRow, ExecutionRow, FlowVersionRow, StepRow } from '../db/tables';
import { iso, isoOrNull } from './dates';

type Schemas = components['schemas'];

const duration = (r: ExecutionRow) =>
  r.started_at && r.completed_at ? r.completed_at.getTime() - r.started_at.getTime() : null;

/** Issue 15's fields, the same on every view of an execution: stage, name, attribution, flow request. */
function attribution(r: ExecutionRow) {
  return {
    stage: r.stage ?? 'draft',
    name: r.name ?? null,
    started_by: r.started_by ? { id: r.started_by, email: r.started_by_email ?? null } : null,
    flow_name: r.flow_name ?? null,
    flow_request: r.flow_request
      ? { id: r.flow_request.id, name: r.flow_request.name ?? null, instructions: r.flow_request.instructions }
      : null,
  };
}

/** 002's `[{name, value}]` view of a completed object result, sorted by name; else null. */
export function toNamedOutputs(r: ExecutionRow): Schemas['NamedOutputs'] {
  const result = r.result;
  if (r.status !== 'completed' || !result || typeof result !== 'object' || Array.isArray(result)) return null;
  return Object.keys(result)
    .sort()
    .map((name) => ({ name, value: (result as Record<string, unknown>)[name] ?? null }));
}

/** `steps`: the latest attempts embedded with `include=steps`. */
export function toExecutionSummary(r: ExecutionRow, steps?: StepRow[]): Schemas['ExecutionSummary'] {
  return {
    id: r.id,
    flow_id: r.flow_id,
    flow_version: r.flow_version,
    account_id: r.account_id,
    organization_id: r.organization_id,
    client_id: r.client_id,
    flow_request_id: r.flow_request?.id ?? null,
    rerun_of: r.rerun_of ?? null,
    retries: r.retries ?? 0,
    file_ids: (r.input_files ?? []).map((f) => f.id),
    status: r.status,
    created_at: iso(r.created_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    duration: duration(r),
    error: r.error,
    trigger: r.trigger ?? null,
    ...attribution(r),
    approval_status: r.approval_status as Schemas['ExecutionSummary']['approval_status'],
    ...(steps ? { steps: steps.map(toStep) } : {}),
  };
}

/** What an execution waits for, without a callback's token hash (a credential's trace). */
export function shownWaitingFor(w: unknown): Schemas['Execution']['waiting_for'] {
  if (!w || typeof w !== 'object') return null;
  const { callback_hash: _hidden, ...shown } = w as Record<string, unknown>;
  return shown as Schemas['Execution']['waiting_for'];
}

export function toProgress(r: ExecutionRow): Schemas['ExecutionProgress'] {
  return {
    steps_completed: r.step_count,
    nodes_total: r.nodes_total,
    current_node: r.current_node,
    node_started_at: isoOrNull(r.node_started_at),
    waiting_until: isoOrNull(r.waiting_until),
    ...(r.foreach_progress ? { foreach: r.foreach_progress } : {}),
  };
}

/** The execution; `steps` with `include=steps`; `waitingReason` when the caller read why it waits (GET /executions/{id}). */
export function toExecution(
  r: ExecutionRow,
  steps?: StepRow[],
  waitingReason?: Schemas['WaitingReason'],
): Schemas['Execution'] {
  return {
    ...toExecutionSummary(r, steps),
    flow_version: r.flow_version,
    parent_execution_id: r.parent_execution_id,
    ...(r.iteration ? { iteration: { node_id: r.iteration.node_id, index: r.iteration.index } } : {}),
    input: r.input,
    result: r.result ?? null,
    error: r.error,
    current_node: r.current_node,
    approval_status: r.approval_status as Schemas['Execution']['approval_status'],
    waiting_for: shownWaitingFor(r.waiting_for),
    progress: toProgress(r),
    named_outputs: toNamedOutputs(r),
    ...(waitingReason !== undefined ? { waiting_reason: waitingReason } : {}),
  };
}

/** Run-and-wait's 200: the execution, with the id also where the 202 body has it. */
export function toFinishedExecution(r: ExecutionRow): Schemas['FinishedExecution'] {
  // Finished: it waits for nothing (GET says the same).
  return { execution_id: r.id, ...toExecution(r, undefined, null) };
}

export function toExecutionRef(r: ExecutionRow): Schemas['ExecutionRef'] {
  return { execution_id: r.id, flow_id: r.flow_id, status: r.status, created_at: iso(r.created_at) };
}

export function toRunRef(r: ExecutionRow): Schemas['RunRef'] {
  return { id: r.id, flow_id: r.flow_id, status: r.status, created_at: iso(r.created_at) };
}

export function toRun(r: ExecutionRow, definitionHash: string): Schemas['Run'] {
  return {
    id: r.id,
    flow_id: r.flow_id,
    flow_version: r.flow_version,
    definition_hash: definitionHash,
    organization_id: r.organization_id,
    status: r.status,
    client_id: r.client_id,
    flow_request_id: r.flow_request?.id ?? null,
    file_ids: (r.input_files ?? []).map((f) => f.id),
    input: r.input,
    outputs: r.result ?? null,
    error: r.error,
    created_at: iso(r.created_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    progress: toProgress(r),
    ...attribution(r),
    approval_status: r.approval_status as Schemas['Run']['approval_status'],
    named_outputs: toNamedOutputs(r),
  };
}

export function toEvent(r: EventRow): Schemas['ExecutionEvent'] {
  return {
    type: r.type,
    execution_id: r.execution_id,
    seq: r.seq,
    timestamp: iso(r.created_at),
    ...r.payload,
  } as Schemas['ExecutionEvent'];
}

export function toLog(r: EventRow): Schemas['LogEntry'] {
  const p = r.payload as {
    level: Schemas['LogLevel'];
    message: string;
    node_id?: string | null;
    node_type?: string | null;
    data?: Record<string, unknown> | null;
  };
  return {
    seq: r.seq,
    timestamp: iso(r.created_at),
    level: p.level,
    message: p.message,
    node_id: p.node_id ?? null,
    node_type: p.node_type ?? null,
    data: p.data ?? null,
  };
}

export function toStep(r: StepRow): Schemas['Step'] {
  return {
    id: r.id,
    node_id: r.node_id,
    node_type: r.node_type,
    attempt: r.attempt,
    status: r.status,
    input: r.input ?? null,
    output: r.output ?? null,
    error: r.error,
    actor_id: r.actor_id,
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
  };
}

export function toWorkflow(v: FlowVersionRow): Schemas['Workflow'] {
  return {
    flow_id: v.flow_id,
    flow_version: v.number,
    version: v.version_label ?? String(v.number),
    definition_hash: v.hash,
    definition: v.definition,
    document: v.document as Record<string, unknown>,
  };
}
