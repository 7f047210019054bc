/** 003's runs view: the same executions, in the shapes of RunsApi. */
import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toRun } from '../presenters/executions.presenter';
import { definitionReply } from './replies';
import { iso } from '../presenters/dates';

export function runHandlers(s: Services): Handlers {
  const runOf = async (actor: Parameters<Services['executions']['get']>[0], id: string) => {
    const ex = await s.executions.get(actor, id);
    const hashes = await s.executions.definitionHashes([ex]);
    return toRun(ex, hashes.get(`${ex.flow_id}@${ex.flow_version}`)!);
  };
  return {
    startRun: async ({ actor, body, headers }) => {
      const { execution } = await s.executions.start(actor, {
        flowId: body.flow_id,
        input: body.input ?? {},
        clientId: body.client_id,
        idempotencyKey: headers['Idempotency-Key'],
      });
      return {
        status: 202,
        body: { id: execution.id, flow_id: execution.flow_id, status: 'queued', created_at: iso(execution.created_at) },
        headers: { Location: `/api/v1/runs/${execution.id}` },
      };
    },
    listRuns: async ({ actor, query }) => {
      const limit = query.limit ?? 50;
      const { rows, nextCursor } = await s.executions.list(actor, {
        status: query.status,
        clientId: query.client_id,
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
    getRun: async ({ actor, params }) => ({ status: 200, body: await runOf(actor, params.run_id) }),
    getRunDefinition: async ({ actor, params, headers }) =>
      definitionReply(await s.executions.definition(actor, params.run_id), headers['If-None-Match']),
    cancelRun: async ({ actor, params }) => {
      const ex = await s.executions.cancel(actor, params.run_id);
      return {
        status: 202,
        body: { id: ex.id, flow_id: ex.flow_id, status: ex.status, created_at: iso(ex.created_at) },
      };
    },
  };
}
