import type { Handlers } from '../http/operations';
import { toListener } from '../presenters/listeners.presenter';
import type { Services } from '../services';
import { message } from './replies';

export function listenerHandlers(s: Services): Handlers {
  return {
    createExecutionListener: async ({ actor, params, body }) => {
      const row = await s.listeners.create(actor, { execution_id: params.id }, body.url, body.events);
      return { status: 201, body: toListener(row, row.plainSecret) };
    },
    listExecutionListeners: async ({ actor, params }) => ({
      status: 200,
      body: { listeners: (await s.listeners.list(actor, { execution_id: params.id })).map((r) => toListener(r)) },
    }),
    deleteExecutionListener: async ({ actor, params }) => {
      await s.listeners.delete(actor, { execution_id: params.id }, params.listener_id);
      return message('Listener deleted successfully');
    },
    createFlowListener: async ({ actor, params, body }) => {
      const row = await s.listeners.create(actor, { flow_id: params.id }, body.url, body.events);
      return { status: 201, body: toListener(row, row.plainSecret) };
    },
    listFlowListeners: async ({ actor, params }) => ({
      status: 200,
      body: { listeners: (await s.listeners.list(actor, { flow_id: params.id })).map((r) => toListener(r)) },
    }),
    deleteFlowListener: async ({ actor, params }) => {
      await s.listeners.delete(actor, { flow_id: params.id }, params.listener_id);
      return message('Listener deleted successfully');
    },
  };
}
