import type { Knex } from 'knex';
import type { SecretRow } from '../db/tables';

export async function listSecretRows(db: Knex, accountId: string): Promise<SecretRow[]> {
  return db<SecretRow>('secrets').where({ account_id: accountId }).orderBy('key');
}

/** Inserts or replaces; `created` tells which. */
export async function upsertSecret(
  db: Knex,
  accountId: string,
  key: string,
  ciphertext: Buffer,
): Promise<{ row: SecretRow; created: boolean }> {
  const result = await db.raw(
    `insert into secrets (account_id, key, ciphertext) values (?, ?, ?)
     on conflict (account_id, key) do update set ciphertext = excluded.ciphertext, updated_at = now()
     returning *, (xmax = 0) as created`,
    [accountId, key, ciphertext],
  );
  const { created, ...row } = result.rows[0];
  return { row: row as SecretRow, created: Boolean(created) };
}

export async function deleteSecretRow(db: Knex, accountId: string, key: string): Promise<boolean> {
  return (await db('secrets').where({ account_id: accountId, key }).delete()) > 0;
}
