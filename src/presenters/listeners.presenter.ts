/** Listeners as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { ListenerRow } from '../db/tables';
import { iso, isoOrNull } from './dates';

type Schemas = components['schemas'];
const ALL_EVENTS: Schemas['EventType'][] = [
  'execution_update',
  'node_started',
  'node_completed',
  'execution_completed',
  'execution_failed',
  'log',
];

export function toListener(r: ListenerRow, secret?: string): Schemas['Listener'] {
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
