/** Flows, versions and node types as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { FlowAttribution, FlowRow, FlowVersionRow, FlowWithDefinition } from '../db/tables';
import { iso } from './dates';

type Schemas = components['schemas'];

const label = (r: { version_label: string | null; current_version: number }) =>
  r.version_label ?? String(r.current_version);

const accountRef = (id: string | null, email: string | null | undefined) => (id ? { id, email: email ?? null } : null);

export function toFlowSummary(r: FlowRow & FlowAttribution & { version_label: string | null }): Schemas['FlowSummary'] {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    version: label(r),
    version_number: r.current_version,
    account_id: r.account_id,
    organization_id: r.organization_id,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    tags: r.tags,
    live_version: r.live_version ?? null,
    created_by: accountRef(r.created_by, r.created_by_email),
    updated_by: accountRef(r.updated_by, r.updated_by_email),
  };
}

const schemaOf = (document: unknown, key: 'inputs' | 'outputs') =>
  ((document as Record<string, unknown> | null)?.[key] as Record<string, unknown> | undefined) ?? null;

export function toFlow(r: FlowWithDefinition): Schemas['Flow'] {
  return {
    ...toFlowSummary(r),
    definition: r.definition,
    inputs_schema: schemaOf(r.document, 'inputs'),
    outputs_schema: schemaOf(r.document, 'outputs'),
  };
}

export function toFlowVersion(r: FlowVersionRow, withDefinition: boolean): Schemas['FlowVersion'] {
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

/** What the catalog shows of a node type module (structural, so presenters need not know the engine). */
export interface NodeTypeInfo {
  type: string;
  displayName: string;
  description: string;
  category: Schemas['NodeType']['category'];
  paramsSchema: Record<string, unknown>;
  output: Schemas['NodeType']['output'];
  outputSchema: Record<string, unknown>;
  outcomes?: (params: Record<string, unknown>) => string[];
}

export function toNodeType(t: NodeTypeInfo): Schemas['NodeType'] {
  const outcomes = t.outcomes?.({}) ?? [];
  return {
    type: t.type,
    display_name: t.displayName,
    description: t.description,
    category: t.category,
    params_schema: t.paramsSchema,
    output: t.output,
    output_schema: t.outputSchema,
    outcomes,
  };
}
