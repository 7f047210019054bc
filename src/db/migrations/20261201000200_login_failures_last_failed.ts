import type { Knex } from 'knex';

// Failures are remembered from the last one (and the end of its lock), not from a fixed window
// start: a key's counter keeps growing, and its lock doubling, for as long as the guessing goes on.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_failures', (t) => {
    t.renameColumn('window_started_at', 'last_failed_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_failures', (t) => {
    t.renameColumn('last_failed_at', 'window_started_at');
  });
}
