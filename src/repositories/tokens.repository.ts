import type { Knex } from 'knex';
import type { AccountRow } from '../db/tables';

export async function insertRevokedToken(db: Knex, jti: string, expiresAt: Date): Promise<void> {
  await db('revoked_tokens').insert({ jti, expires_at: expiresAt }).onConflict('jti').ignore();
}

/** The token's account (if it still exists) and whether the token was revoked, in one query. */
export async function findTokenSubject(
  db: Knex,
  accountId: string,
  jti: string,
): Promise<{ role: AccountRow['role']; revoked: boolean } | undefined> {
  const row = await db('accounts')
    .where({ id: accountId })
    .first('role', db.raw('exists(select 1 from revoked_tokens where jti = ?) as revoked', [jti]));
  return row as { role: AccountRow['role']; revoked: boolean } | undefined;
}

/** Revocations outlive their token only until it would have expired anyway. */
export async function deleteExpiredRevocations(db: Knex): Promise<number> {
  return db('revoked_tokens').where('expires_at', '<', db.fn.now()).delete();
}

/** Every revocation whose token could still be presented. */
export async function listLiveRevocations(db: Knex): Promise<{ jti: string; expires_at: Date }[]> {
  return db('revoked_tokens').where('expires_at', '>', db.fn.now()).select('jti', 'expires_at');
}
