/** 001's flow requests. */
import type { Handlers } from '../http/operations';
import { toFlowRequest } from '../presenters/flow-requests.presenter';
import type { Services } from '../services';
import { message } from './replies';

export function flowRequestHandlers(s: Services): Handlers {
  return {
    listFlowRequests: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.flowRequests.list(actor, {
        flowId: query.flow_id,
        organization: query.organization,
        limit,
        offset,
      });
      return { status: 200, body: { flow_requests: rows.map(toFlowRequest), total, limit, offset } };
    },
    createFlowRequest: async ({ actor, body }) => ({
      status: 201,
      body: toFlowRequest(await s.flowRequests.create(actor, body)),
    }),
    getFlowRequest: async ({ actor, params }) => ({
      status: 200,
      body: toFlowRequest(await s.flowRequests.get(actor, params.id)),
    }),
    updateFlowRequest: async ({ actor, params, body }) => ({
      status: 200,
      body: toFlowRequest(await s.flowRequests.update(actor, params.id, body)),
    }),
    deleteFlowRequest: async ({ actor, params }) => {
      await s.flowRequests.delete(actor, params.id);
      return message('Flow request deleted successfully');
    },
  };
}
