import type { Handlers } from '../http/operations';
import { iso } from '../presenters/dates';
import { toEvent, toExecution, toExecutionSummary, toLog, toStep } from '../presenters/executions.presenter';
import type { Services } from '../services';
import { definitionReply, message } from './replies';

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
