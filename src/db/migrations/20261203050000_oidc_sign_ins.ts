import type { Knex } from 'knex';

/**
 * Browser sign-in at an identity provider. A sign-in under way is found by its state's hash and
 * bound to one browser (the hash of its cookie's value); a finished one waits a minute for the
 * console to take its token (`oidc_sign_in_handoffs`, by the same browser hash). Both are used once
 * (deleted when read) and short-lived; nothing else refers to them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('oidc_sign_ins', (t) => {
    t.text('state_hash').primary();
    t.text('browser_hash').notNullable();
    t.text('nonce').notNullable();
    t.text('code_verifier').notNullable();
    t.text('return_to').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
  });
  await knex.schema.createTable('oidc_sign_in_handoffs', (t) => {
    t.text('browser_hash').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('oidc_sign_in_handoffs');
  await knex.schema.dropTable('oidc_sign_ins');
}
