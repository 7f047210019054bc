import type { Knex } from 'knex';
import type { AccountRow, ApiKeyRow } from '../db/tables';

export async function insertApiKey(db: Knex, row: Omit<ApiKeyRow, 'created_at' | 'last_used_at'>): Promise<ApiKeyRow> {
  const [created] = await db<ApiKeyRow>('api_keys').insert(row).returning('*');
  return created;
}

/** An account's keys, newest first; only those of `organizationId` when given. */
export async function listApiKeyRows(db: Knex, accountId: string, organizationId?: string): Promise<ApiKeyRow[]> {
  return db<ApiKeyRow>('api_keys')
    .where({ account_id: accountId, ...(organizationId === undefined ? {} : { organization_id: organizationId }) })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
}

/** The deleted key's hash, or undefined when the account has no such key. */
export async function deleteApiKeyRow(db: Knex, id: string, accountId: string): Promise<string | undefined> {
  const [row] = await db<ApiKeyRow>('api_keys').where({ id, account_id: accountId }).delete().returning('key_hash');
  return row?.key_hash;
}

/** The key with that hash and its owner, in one query (every X-API-Key request runs it). */
export async function findApiKeyWithOwner(
  db: Knex,
  keyHash: string,
): Promise<(ApiKeyRow & { role: AccountRow['role'] }) | undefined> {
  return db('api_keys as k')
    .join('accounts as a', 'a.id', 'k.account_id')
    .where('k.key_hash', keyHash)
    .first('k.*', 'a.role');
}

export async function touchApiKey(db: Knex, id: string): Promise<void> {
  await db('api_keys').where({ id }).update({ last_used_at: db.fn.now() });
}
