import type { components } from '../../generated/types/api';
import type { ListenerRow } from '../db/tables';
import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { iso, isoOrNull, message } from './presenters';

type Schemas = components['schemas'];
const ALL_EVENTS: Schemas['EventType'][] = [
  'execution_update',
  'node_completed',
  'execution_completed',
  'execution_failed',
  'log',
];

function toListener(r: ListenerRow, secret?: string): Schemas['Listener'] {
  return {
    id: r.id,
    url: r.url,
    events: (r.events ?? ALL_EVENTS) as Schemas['EventType'][],
    execution_id: r.execution_id,
    flow_id: r.flow_id,
    created_at: iso(r.created_at),
    last_delivery_status: r.last_delivery_status,
    last_delivery_at: isoOrNull(r.last_delivery_at),
    ...(secret ? { secret } : {}),
  };
}

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
