import type { Knex } from 'knex';

/**
 * The rate limit of 000's callback URL: calls counted in fixed one-minute windows, per token (by its
 * hash) and per client address, in PostgreSQL so that every API process counts the same calls.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('callback_rate', (t) => {
    t.text('key').primary();
    t.timestamp('window_started_at', { useTz: true }).notNullable();
    t.integer('calls').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('callback_rate');
}
