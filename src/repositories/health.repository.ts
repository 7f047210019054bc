import type { Knex } from 'knex';

/** The cheapest statement that proves the database answers. */
export async function pingDatabase(db: Knex): Promise<void> {
  await db.raw('select 1');
}
