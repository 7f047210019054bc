/** Connections: one function per query. */
import type { Knex } from 'knex';
import type { ConnectionRow } from '../db/tables';

export async function insertConnection(
  db: Knex,
  row: Omit<ConnectionRow, 'created_at' | 'updated_at'>,
): Promise<ConnectionRow> {
  const [created] = await db<ConnectionRow>('connections')
    .insert({ ...row, settings: JSON.stringify(row.settings) as never })
    .returning('*');
  return created;
}

export async function findConnection(db: Knex, id: string): Promise<ConnectionRow | undefined> {
  return db<ConnectionRow>('connections').where({ id }).first();
}

/** An organization's connection by name (unique in it). */
export async function findConnectionByName(
  db: Knex,
  organizationId: string,
  name: string,
): Promise<ConnectionRow | undefined> {
  return db<ConnectionRow>('connections').where({ organization_id: organizationId, name }).first();
}

/** Newest first, below `beforeId` when given; every organization's when `organizationIds` is undefined. */
export async function listConnectionRows(
  db: Knex,
  filter: { organizationIds?: readonly string[]; beforeId?: string; limit: number },
): Promise<ConnectionRow[]> {
  return db<ConnectionRow>('connections')
    .modify((q) => {
      if (filter.organizationIds) q.whereIn('organization_id', filter.organizationIds);
      if (filter.beforeId) q.where('id', '<', filter.beforeId);
    })
    .orderBy('id', 'desc')
    .limit(filter.limit);
}

/** The sealed secrets of an organization's connections, for masking. */
export async function listOrganizationConnectionSecrets(
  db: Knex,
  organizationId: string,
): Promise<Pick<ConnectionRow, 'id' | 'account_id' | 'ciphertext'>[]> {
  return db<ConnectionRow>('connections')
    .where({ organization_id: organizationId })
    .select('id', 'account_id', 'ciphertext');
}

export async function updateConnectionRow(
  db: Knex,
  id: string,
  patch: Partial<Pick<ConnectionRow, 'name' | 'description' | 'settings' | 'ciphertext'>>,
): Promise<ConnectionRow | undefined> {
  const [row] = await db<ConnectionRow>('connections')
    .where({ id })
    .update({
      ...patch,
      ...(patch.settings !== undefined ? { settings: JSON.stringify(patch.settings) as never } : {}),
      updated_at: db.fn.now() as never,
    })
    .returning('*');
  return row;
}

export async function deleteConnectionRow(db: Knex, id: string): Promise<boolean> {
  return (await db('connections').where({ id }).delete()) > 0;
}
