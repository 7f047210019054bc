import type { Knex } from 'knex';

export interface ShareRow {
  execution_id: string;
  account_id: string;
  shared_by: string | null;
  created_at: Date;
}

export async function isSharedWith(db: Knex, executionId: string, accountId: string): Promise<boolean> {
  return (
    (await db('execution_shares').where({ execution_id: executionId, account_id: accountId }).first('account_id')) !==
    undefined
  );
}

export async function listShareRows(
  db: Knex,
  executionId: string,
): Promise<(ShareRow & { email: string; name: string })[]> {
  return db('execution_shares as s')
    .join('accounts as a', 'a.id', 's.account_id')
    .where('s.execution_id', executionId)
    .orderBy('s.created_at')
    .select('s.*', 'a.email', 'a.name');
}

/** Inserts the share; false when it existed already. */
export async function insertShare(db: Knex, row: Omit<ShareRow, 'created_at'>): Promise<ShareRow | undefined> {
  const [created] = await db<ShareRow>('execution_shares')
    .insert(row)
    .onConflict(['execution_id', 'account_id'])
    .ignore()
    .returning('*');
  return created;
}

export async function deleteShare(db: Knex, executionId: string, accountId: string): Promise<boolean> {
  return (await db('execution_shares').where({ execution_id: executionId, account_id: accountId }).delete()) > 0;
}
