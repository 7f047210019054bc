/** Flow requests as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { FlowRequestRow } from '../db/tables';
import { iso } from './dates';

export function toFlowRequest(r: FlowRequestRow): components['schemas']['FlowRequest'] {
  return {
    id: r.id,
    organization_id: r.organization_id,
    name: r.name,
    instructions: r.instructions,
    metadata: r.metadata,
    flow_id: r.flow_id,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    created_by: r.created_by,
    updated_by: r.updated_by,
  };
}
