import type { components } from '../../generated/types/api';
import type { FlowRow, FlowVersionRow } from '../db/tables';
import { NODE_TYPES, nodeType } from '../engine/nodes';
import { NotFoundError } from '../errors';
import type { Handlers } from '../http/operations';
import type { FlowWithDefinition } from '../repositories/flows.repository';
import type { Services } from '../services';
import { iso, message } from './presenters';

type Schemas = components['schemas'];

const label = (r: { version_label: string | null; current_version: number }) =>
  r.version_label ?? String(r.current_version);

function toFlowSummary(r: FlowRow & { version_label: string | null }): Schemas['FlowSummary'] {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    version: label(r),
    version_number: r.current_version,
    account_id: r.account_id,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    tags: r.tags,
  };
}

function toFlow(r: FlowWithDefinition): Schemas['Flow'] {
  return { ...toFlowSummary(r), definition: r.definition };
}

function toFlowVersion(r: FlowVersionRow, withDefinition: boolean): Schemas['FlowVersion'] {
  return {
    flow_id: r.flow_id,
    number: r.number,
    version: r.version_label ?? String(r.number),
    hash: r.hash,
    created_at: iso(r.created_at),
    created_by: r.created_by,
    ...(withDefinition ? { definition: r.definition } : {}),
  };
}

function toNodeType(t: (typeof NODE_TYPES)[number]): Schemas['NodeType'] {
  const outcomes = t.outcomes?.({}) ?? [];
  return {
    type: t.type,
    description: t.description,
    category: t.category,
    params_schema: t.paramsSchema,
    output: t.output,
    outcomes,
  };
}

/** `?tag=a&tag=b` and `?tag=a,b` alike (tags hold no commas). */
const tagsOf = (tag: string | string[] | undefined): string[] =>
  (tag === undefined ? [] : Array.isArray(tag) ? tag : [tag])
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);

export function flowHandlers(s: Services): Handlers {
  return {
    listFlows: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.flows.list(actor, { tags: tagsOf(query.tag), limit, offset });
      return { status: 200, body: { flows: rows.map(toFlowSummary), total, limit, offset } };
    },
    createFlow: async ({ actor, body }) => ({ status: 201, body: toFlow(await s.flows.create(actor, body)) }),
    getFlow: async ({ actor, params }) => ({ status: 200, body: toFlow(await s.flows.get(actor, params.id)) }),
    updateFlow: async ({ actor, params, body }) => ({
      status: 200,
      body: toFlow(await s.flows.update(actor, params.id, body)),
    }),
    deleteFlow: async ({ actor, params }) => {
      await s.flows.delete(actor, params.id);
      return message('Flow deleted successfully');
    },
    listFlowVersions: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.flows.versions(actor, params.id, limit, offset);
      return { status: 200, body: { versions: rows.map((r) => toFlowVersion(r, false)), total, limit, offset } };
    },
    getFlowVersion: async ({ actor, params }) => ({
      status: 200,
      body: toFlowVersion(await s.flows.version(actor, params.id, params.version), true),
    }),
    listNodeTypes: async () => ({ status: 200, body: { node_types: NODE_TYPES.map(toNodeType) } }),
    getNodeType: async ({ params }) => {
      const t = nodeType(params.type);
      if (!t) throw new NotFoundError(`Node type "${params.type}" not found`);
      return { status: 200, body: toNodeType(t) };
    },
  };
}
