/** 003's runs view: the same executions, in the shapes of RunsApi. */
import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toRun, toRunRef } from '../presenters/executions.presenter';
import { definitionReply } from './replies';
import { abortedWhenGone, preferenceApplied, startReply, waitOf } from './waits';

const runUrl = (id: string) => `/api/v1/runs/${id}`;

export function runHandlers(s: Services): Handlers {
  const present = async (ex: Parameters<typeof toRun>[0]) => {
    const hashes = await s.executions.definitionHashes([ex]);
    return toRun(ex, hashes.get(`${ex.flow_id}@${ex.flow_version}`)!);
  };
  return {
    startRun: ({ actor, body, headers, query, res }) =>
      startReply(
        s,
        {
          actor,
          start: {
            flowId: body.flow_id,
            input: body.input ?? {},
            clientId: body.client_id,
            flowRequestId: body.flow_request_id,
            stage: body.stage,
            flowVersion: body.flow_version,
            name: body.name,
            approval: body.approval,
            fileIds: body.file_ids,
            idempotencyKey: headers['Idempotency-Key'],
          },
          prefer: headers.Prefer,
          wait: query.wait,
          res,
        },
        { url: runUrl, ref: toRunRef, finished: present },
      ),
    listRuns: async ({ actor, query }) => {
      const limit = query.limit ?? 50;
      const { rows, nextCursor } = await s.executions.list(actor, {
        organization: query.organization,
        status: query.status,
        clientId: query.client_id,
        flowId: query.flow_id,
        stage: query.stage,
        name: query.name,
        cursor: query.cursor,
        limit,
        offset: 0,
      });
      const hashes = await s.executions.definitionHashes(rows);
      return {
        status: 200,
        body: {
          items: rows.map((r) => toRun(r, hashes.get(`${r.flow_id}@${r.flow_version}`)!)),
          next_cursor: nextCursor,
        },
      };
    },
    getRun: async ({ actor, params, headers, query, res }) => {
      const wait = waitOf(headers.Prefer, query.wait, s.config.maxWaitSeconds);
      if (!wait) return { status: 200, body: await present(await s.executions.get(actor, params.run_id)) };
      const { execution, honoured } = await s.completions.getWhenFinished(actor, params.run_id, {
        seconds: wait.seconds,
        signal: abortedWhenGone(res),
      });
      return { status: 200, body: await present(execution), headers: preferenceApplied(wait, honoured) };
    },
    getRunDefinition: async ({ actor, params, headers }) =>
      definitionReply(await s.executions.definition(actor, params.run_id), headers['If-None-Match']),
    cancelRun: async ({ actor, params }) => {
      const ex = await s.executions.cancel(actor, params.run_id, { retried: 'answered' });
      return { status: 202, body: toRunRef(ex) };
    },
  };
}
