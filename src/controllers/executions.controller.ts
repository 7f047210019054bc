import type { Handlers } from '../http/operations';
import {
  toEvent,
  toExecution,
  toExecutionRef,
  toExecutionSummary,
  toFinishedExecution,
  toLog,
  toStep,
} from '../presenters/executions.presenter';
import type { Services } from '../services';
import { definitionReply, message } from './replies';
import { abortedWhenGone, preferenceApplied, startReply, waitOf } from './waits';

type ExecutionRow = Awaited<ReturnType<Services['executions']['get']>>;

const executionUrl = (id: string) => `/api/v1/executions/${id}`;

/** A date-time query filter (its format is validated against the spec before this runs). */
const instantOf = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export function executionHandlers(s: Services): Handlers {
  return {
    runFlow: ({ actor, params, body, headers, query, res }) =>
      startReply(
        s,
        {
          actor,
          start: {
            flowId: params.id,
            input: body.input ?? {},
            flowRequestId: body.flow_request_id,
            stage: body.stage,
            name: body.name,
            approval: body.approval,
            fileIds: body.file_ids,
            idempotencyKey: headers['Idempotency-Key'],
          },
          prefer: headers.Prefer,
          wait: query.wait,
          res,
        },
        { url: executionUrl, ref: toExecutionRef, finished: toFinishedExecution },
      ),
    purgeExecution: async ({ actor, params }) => {
      await s.executions.purge(actor, params.id);
      return message('Execution purged');
    },
    listExecutions: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total, nextCursor } = await s.executions.list(actor, {
        organization: query.organization,
        flowId: query.flow_id,
        status: query.status,
        triggerType: query.trigger_type,
        triggerId: query.trigger_id,
        stage: query.stage,
        name: query.name,
        createdAfter: instantOf(query.created_after),
        createdBefore: instantOf(query.created_before),
        rerunOf: query.rerun_of,
        cursor: query.cursor,
        limit,
        offset,
      });
      const steps = query.include === 'steps' ? await s.executions.latestSteps(rows) : undefined;
      return {
        status: 200,
        body: {
          executions: rows.map((r) => toExecutionSummary(r, steps?.get(r.id))),
          total,
          limit,
          offset,
          next_cursor: nextCursor,
        },
      };
    },
    getExecution: async ({ actor, params, headers, query, res }) => {
      const wait = waitOf(headers.Prefer, query.wait, s.config.maxWaitSeconds);
      const present = async (ex: ExecutionRow) =>
        toExecution(
          ex,
          query.include === 'steps' ? (await s.executions.latestSteps([ex])).get(ex.id) : undefined,
          await s.executions.waitingReason(ex),
        );
      if (!wait) return { status: 200, body: await present(await s.executions.get(actor, params.id)) };
      const { execution, honoured } = await s.completions.getWhenFinished(actor, params.id, {
        seconds: wait.seconds,
        signal: abortedWhenGone(res),
      });
      return { status: 200, body: await present(execution), headers: preferenceApplied(wait, honoured) };
    },
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
