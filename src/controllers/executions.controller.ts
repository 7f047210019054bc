import type { components } from '../../generated/types/api';
import type { EventRow, ExecutionRow, FlowVersionRow, StepRow } from '../db/tables';
import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { iso, isoOrNull, message } from './presenters';

type Schemas = components['schemas'];

const duration = (r: ExecutionRow) =>
  r.started_at && r.completed_at ? r.completed_at.getTime() - r.started_at.getTime() : null;

export function toExecutionSummary(r: ExecutionRow): Schemas['ExecutionSummary'] {
  return {
    id: r.id,
    flow_id: r.flow_id,
    flow_version: r.flow_version,
    account_id: r.account_id,
    client_id: r.client_id,
    status: r.status,
    created_at: iso(r.created_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    duration: duration(r),
    error: r.error,
  };
}

export function toExecution(r: ExecutionRow): Schemas['Execution'] {
  return {
    ...toExecutionSummary(r),
    flow_version: r.flow_version,
    parent_execution_id: r.parent_execution_id,
    input: r.input,
    result: r.result ?? null,
    error: r.error,
    current_node: r.current_node,
    approval_status: r.approval_status as Schemas['Execution']['approval_status'],
    waiting_for: (r.waiting_for ?? null) as Schemas['Execution']['waiting_for'],
  };
}

export function toRun(r: ExecutionRow, definitionHash: string): Schemas['Run'] {
  return {
    id: r.id,
    flow_id: r.flow_id,
    flow_version: r.flow_version,
    definition_hash: definitionHash,
    status: r.status,
    client_id: r.client_id,
    input: r.input,
    outputs: r.result ?? null,
    error: r.error,
    created_at: iso(r.created_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
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

function toLog(r: EventRow): Schemas['LogEntry'] {
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

/** The pinned snapshot with a weak ETag from its hash; 304 when the caller holds it already. */
export function definitionReply(v: FlowVersionRow, ifNoneMatch: string | undefined) {
  const etag = `W/"${v.hash}"`;
  const held = (ifNoneMatch ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (held.includes(`"${v.hash}"`) || held.includes('*'))
    return { status: 304 as const, body: undefined, headers: { ETag: etag } };
  return { status: 200 as const, body: toWorkflow(v), headers: { ETag: etag } };
}

export function executionHandlers(s: Services): Handlers {
  return {
    runFlow: async ({ actor, params, body, headers }) => {
      const { execution } = await s.executions.start(actor, {
        flowId: params.id,
        input: body.input ?? {},
        idempotencyKey: headers['Idempotency-Key'],
      });
      return {
        status: 202,
        body: {
          execution_id: execution.id,
          flow_id: execution.flow_id,
          status: 'queued',
          created_at: iso(execution.created_at),
        },
        headers: { Location: `/api/v1/executions/${execution.id}` },
      };
    },
    listExecutions: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total, nextCursor } = await s.executions.list(actor, {
        flowId: query.flow_id,
        status: query.status,
        cursor: query.cursor,
        limit,
        offset,
      });
      return {
        status: 200,
        body: { executions: rows.map(toExecutionSummary), total, limit, offset, next_cursor: nextCursor },
      };
    },
    getExecution: async ({ actor, params }) => ({
      status: 200,
      body: toExecution(await s.executions.get(actor, params.id)),
    }),
    cancelExecution: async ({ actor, params }) => {
      await s.executions.cancel(actor, params.id);
      return message('Execution cancelled successfully');
    },
    getExecutionLogs: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.executions.logs(actor, params.id, query.level, limit, offset);
      return { status: 200, body: { logs: rows.map(toLog), total, limit, offset } };
    },
    getExecutionSteps: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.executions.steps(actor, params.id, limit, offset);
      return { status: 200, body: { steps: rows.map(toStep), total, limit, offset } };
    },
    getExecutionEvents: async ({ actor, params, query }) => {
      const since = query.since ?? 0;
      const rows = await s.executions.events(actor, params.id, since, query.limit ?? 100);
      return {
        status: 200,
        body: { events: rows.map(toEvent), next_seq: rows.length > 0 ? rows[rows.length - 1].seq : since },
      };
    },
    getExecutionDefinition: async ({ actor, params, headers }) =>
      definitionReply(await s.executions.definition(actor, params.id), headers['If-None-Match']),
  };
}
