import type { Knex } from 'knex';

/**
 * Connections (001's integrations): named credentials of an account. `settings` holds what may be
 * shown (a header name, a username, a token URL); `ciphertext` the secret parts, sealed like
 * secrets with the connection's id as context.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connections', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('type').notNullable();
    t.text('description');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.binary('ciphertext').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['account_id', 'name']);
    t.index(['account_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('connections');
}
