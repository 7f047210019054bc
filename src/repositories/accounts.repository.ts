import type { Knex } from 'knex';
import type { AccountRow } from '../db/tables';

export async function findAccountById(db: Knex, id: string): Promise<AccountRow | undefined> {
  return db<AccountRow>('accounts').where({ id }).first();
}

export async function findAccountByEmail(db: Knex, email: string): Promise<AccountRow | undefined> {
  return db<AccountRow>('accounts').whereRaw('lower(email) = lower(?)', [email]).first();
}

/** The account of an external identity (issuer + subject), with only what authentication needs. */
export async function findExternalAccount(
  db: Knex,
  issuer: string,
  subject: string,
): Promise<Pick<AccountRow, 'id' | 'role'> | undefined> {
  return db<AccountRow>('accounts').where({ external_issuer: issuer, external_id: subject }).first('id', 'role');
}

export async function insertAccount(
  db: Knex,
  row: Omit<AccountRow, 'created_at' | 'updated_at' | 'external_issuer' | 'external_id'> &
    Partial<Pick<AccountRow, 'external_issuer' | 'external_id'>>,
): Promise<AccountRow> {
  const [created] = await db<AccountRow>('accounts').insert(row).returning('*');
  return created;
}

export async function updateAccountRow(
  db: Knex,
  id: string,
  patch: Partial<Pick<AccountRow, 'name' | 'email' | 'password_hash' | 'role'>>,
): Promise<AccountRow> {
  const [updated] = await db<AccountRow>('accounts')
    .where({ id })
    .update({ ...patch, updated_at: db.fn.now() as unknown as Date })
    .returning('*');
  return updated;
}

export async function deleteAccountRow(db: Knex, id: string): Promise<void> {
  await db('accounts').where({ id }).delete();
}

export async function listAccountRows(
  db: Knex,
  filter: { role?: string; limit: number; offset: number },
): Promise<{ rows: AccountRow[]; total: number }> {
  const base = db<AccountRow>('accounts').modify((q) => {
    if (filter.role) q.where('role', filter.role);
  });
  const [rows, [{ count }]] = await Promise.all([
    base
      .clone()
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ])
      .limit(filter.limit)
      .offset(filter.offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/** Locks every admin row: the last-admin rule must see a stable set. */
export async function lockAdminIds(tx: Knex.Transaction): Promise<string[]> {
  const rows = await tx('accounts').where({ role: 'admin' }).forUpdate().select('id');
  return rows.map((r: { id: string }) => r.id);
}

export async function anyAdminExists(db: Knex): Promise<boolean> {
  return (await db('accounts').where({ role: 'admin' }).first('id')) !== undefined;
}

/** The account's role, or undefined when it no longer exists (every token's subject check). */
export async function findAccountRole(db: Knex, id: string): Promise<AccountRow['role'] | undefined> {
  const row = await db<AccountRow>('accounts').where({ id }).first('role');
  return row?.role;
}
