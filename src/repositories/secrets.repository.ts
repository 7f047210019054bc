/** Secrets: one function per query. A secret is an organization's, by key. */
import type { Knex } from 'knex';
import type { SecretRow } from '../db/tables';

/** An organization's secrets, by key. */
export async function listSecretRows(db: Knex, organizationId: string): Promise<SecretRow[]> {
  return db<SecretRow>('secrets').where({ organization_id: organizationId }).orderBy('key');
}

/** The secrets of these organizations (every organization's when undefined), by organization and key. */
export async function listOrganizationsSecretRows(
  db: Knex,
  filter: { organizationIds?: readonly string[] },
): Promise<SecretRow[]> {
  return db<SecretRow>('secrets')
    .modify((q) => {
      if (filter.organizationIds) q.whereIn('organization_id', filter.organizationIds);
    })
    .orderBy([{ column: 'organization_id' }, { column: 'key' }]);
}

/** The secret, locked until the transaction ends (a replacement is sealed with its creator's context). */
export async function lockSecret(
  tx: Knex.Transaction,
  organizationId: string,
  key: string,
): Promise<SecretRow | undefined> {
  return tx<SecretRow>('secrets').where({ organization_id: organizationId, key }).forUpdate().first();
}

/** Inserts a new secret; undefined when the organization has one of that key already (inserted meanwhile). */
export async function insertSecret(
  db: Knex,
  row: Pick<SecretRow, 'organization_id' | 'account_id' | 'key' | 'ciphertext'>,
): Promise<SecretRow | undefined> {
  const [created] = await db<SecretRow>('secrets')
    .insert(row)
    .onConflict(['organization_id', 'key'])
    .ignore()
    .returning('*');
  return created as SecretRow | undefined;
}

export async function replaceSecretValue(
  db: Knex,
  organizationId: string,
  key: string,
  ciphertext: Buffer,
): Promise<SecretRow | undefined> {
  const [row] = await db<SecretRow>('secrets')
    .where({ organization_id: organizationId, key })
    .update({ ciphertext, updated_at: db.fn.now() as never })
    .returning('*');
  return row as SecretRow | undefined;
}

export async function deleteSecretRow(db: Knex, organizationId: string, key: string): Promise<boolean> {
  return (await db('secrets').where({ organization_id: organizationId, key }).delete()) > 0;
}
