/** 001's flow requests: one function per query. */
import type { Knex } from 'knex';
import type { FlowRequestRow } from '../db/tables';

export async function insertFlowRequest(
  db: Knex,
  row: Omit<FlowRequestRow, 'created_at' | 'updated_at'>,
): Promise<FlowRequestRow> {
  const [created] = await db<FlowRequestRow>('flow_requests')
    .insert({ ...row, metadata: JSON.stringify(row.metadata) as never })
    .returning('*');
  return created;
}

export async function findFlowRequest(db: Knex, id: string): Promise<FlowRequestRow | undefined> {
  return db<FlowRequestRow>('flow_requests').where({ id }).first();
}

export async function listFlowRequestRows(
  db: Knex,
  filter: { organizationIds?: readonly string[]; flowId?: string; limit: number; offset: number },
): Promise<{ rows: FlowRequestRow[]; total: number }> {
  const base = db<FlowRequestRow>('flow_requests').modify((q) => {
    if (filter.organizationIds) q.whereIn('organization_id', filter.organizationIds);
    if (filter.flowId) q.where('flow_id', filter.flowId);
  });
  const [rows, [{ count }]] = await Promise.all([
    base.clone().select('*').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows: rows as FlowRequestRow[], total: Number(count) };
}

export async function updateFlowRequestRow(
  db: Knex,
  id: string,
  patch: Partial<Pick<FlowRequestRow, 'name' | 'instructions' | 'metadata' | 'flow_id' | 'updated_by'>>,
): Promise<FlowRequestRow | undefined> {
  const [row] = await db<FlowRequestRow>('flow_requests')
    .where({ id })
    .update({
      ...patch,
      ...(patch.metadata !== undefined ? { metadata: JSON.stringify(patch.metadata) as never } : {}),
      updated_at: db.fn.now() as never,
    })
    .returning('*');
  return row;
}

export async function deleteFlowRequestRow(db: Knex, id: string): Promise<boolean> {
  return (await db('flow_requests').where({ id }).delete()) > 0;
}
