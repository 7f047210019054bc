import type { Knex } from 'knex';
import type { OidcSignInRow } from '../db/tables';

export async function insertOidcSignIn(db: Knex, row: OidcSignInRow): Promise<void> {
  await db<OidcSignInRow>('oidc_sign_ins').insert(row);
}

/** The sign-in of a state, deleted as it is read: a state serves once, whatever comes of it. */
export async function takeOidcSignIn(db: Knex, stateHash: string): Promise<OidcSignInRow | undefined> {
  const [row] = await db<OidcSignInRow>('oidc_sign_ins').where({ state_hash: stateHash }).delete().returning('*');
  return row;
}

/** Sign-ins nobody came back from, and hand-offs nobody took. */
export async function deleteExpiredOidcSignIns(db: Knex): Promise<void> {
  await db.raw(
    `with gone as (delete from oidc_sign_ins where expires_at < now())
     delete from oidc_sign_in_handoffs where expires_at < now()`,
  );
}

/** A finished sign-in's account, waiting for its browser to take a token (one per browser). */
export async function upsertOidcHandoff(
  db: Knex,
  browserHash: string,
  accountId: string,
  ttlSeconds: number,
): Promise<void> {
  await db.raw(
    `insert into oidc_sign_in_handoffs (browser_hash, account_id, expires_at)
       values (?, ?, now() + make_interval(secs => ?))
     on conflict (browser_hash) do update set account_id = excluded.account_id, expires_at = excluded.expires_at`,
    [browserHash, accountId, ttlSeconds],
  );
}

/** The account of a browser's unexpired hand-off, deleted as it is read. */
export async function takeOidcHandoff(db: Knex, browserHash: string): Promise<string | undefined> {
  const result = await db.raw(
    `delete from oidc_sign_in_handoffs where browser_hash = ? returning account_id, expires_at > now() as live`,
    [browserHash],
  );
  const row = (result.rows as { account_id: string; live: boolean }[])[0];
  return row?.live ? row.account_id : undefined;
}
