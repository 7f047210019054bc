import type { Knex } from 'knex';

/**
 * 000's callbacks (below), and 001's flow requests, and what an execution keeps of the one it carries out: a copy of its
 * instructions and metadata as they were at the start (templates read it; a later edit or
 * delete of the request changes no execution).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('flow_requests', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('name');
    t.text('instructions').notNullable();
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.text('flow_id').references('flows.id').onDelete('SET NULL');
    t.text('created_by').notNullable();
    t.text('updated_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'id']);
  });
  await knex.schema.alterTable('executions', (t) => {
    t.jsonb('flow_request');
  });
  // 000's callbacks: a waiting callback node is found by its token's hash; a used token is
  // remembered so that a second call is told it came too late (409), not that it never existed.
  await knex.raw(
    "create index executions_callback on executions ((waiting_for->>'callback_hash')) where waiting_for->>'callback_hash' is not null",
  );
  await knex.schema.createTable('used_callbacks', (t) => {
    t.text('token_hash').primary();
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.timestamp('used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('used_callbacks');
  await knex.raw('drop index if exists executions_callback');
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('flow_request');
  });
  await knex.schema.dropTable('flow_requests');
}
