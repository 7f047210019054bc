import type { Handlers } from '../http/operations';
import { toExecution, toRunRef } from '../presenters/executions.presenter';
import type { Services } from '../services';

const executionUrl = (id: string) => `/api/v1/executions/${id}`;

/** A retry's options, the same from `/executions/{id}/retry` and 003's `/runs/{run_id}/retry`. */
function retryOptions(
  body:
    | { use_current_version?: boolean; input?: Record<string, unknown>; items?: number[]; foreach_node?: string }
    | undefined,
  headers: { 'Idempotency-Key'?: string },
) {
  return {
    useCurrentVersion: body?.use_current_version,
    input: body?.input,
    items: body?.items,
    foreachNode: body?.foreach_node,
    idempotencyKey: headers['Idempotency-Key'],
  };
}

export function recoveryHandlers(s: Services): Handlers {
  return {
    retryExecution: async ({ actor, params, body, headers }) => {
      const execution = await s.recovery.retry(actor, params.id, retryOptions(body, headers));
      return { status: 202, body: toExecution(execution), headers: { Location: executionUrl(execution.id) } };
    },
    retryRun: async ({ actor, params, body, headers }) => {
      const execution = await s.recovery.retry(actor, params.run_id, retryOptions(body, headers));
      return { status: 202, body: toRunRef(execution), headers: { Location: `/api/v1/runs/${execution.id}` } };
    },
    rerunExecution: async ({ actor, params, body, headers }) => {
      const execution = await s.recovery.rerun(actor, params.id, {
        useCurrentVersion: body?.use_current_version,
        input: body?.input,
        fromNode: body?.from_node,
        idempotencyKey: headers['Idempotency-Key'],
      });
      return { status: 202, body: toExecution(execution), headers: { Location: executionUrl(execution.id) } };
    },
  };
}
