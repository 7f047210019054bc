/** Files as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { FileRow } from '../db/tables';
import { iso } from './dates';

type Schemas = components['schemas'];

export function toFileMetadata(r: FileRow): Schemas['FileMetadata'] {
  return {
    organization_id: r.organization_id,
    id: r.id,
    name: r.name,
    content_type: r.content_type,
    size: Number(r.size),
    sha256: r.sha256,
    created_at: iso(r.created_at),
    created_by: r.created_by,
    execution_id: r.execution_id,
  };
}

export function toExecutionFile(
  r: FileRow & { role: 'input' | 'output'; node_id: string | null },
): Schemas['ExecutionFile'] {
  return { role: r.role, node_id: r.node_id, file: toFileMetadata(r) };
}

/**
 * `attachment` with the name twice: `filename` in ASCII (others become `_`) for old clients, and
 * `filename*` in UTF-8 (RFC 8187), which current ones prefer.
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
