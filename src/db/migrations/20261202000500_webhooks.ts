import type { Knex } from 'knex';

/**
 * Inbound webhook triggers: a flow's secret URL (the token stored as a SHA-256 hash), how callers
 * are verified (the shared secret sealed like listener secrets), the log of every call, and the
 * delivery ids seen in the last 24 hours (a retried delivery answers its first execution).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhooks', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('flow_id').notNullable().references('flows.id').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.text('respond').notNullable().defaultTo('immediately');
    t.integer('timeout_seconds').notNullable().defaultTo(10);
    t.jsonb('verification').notNullable();
    t.binary('secret');
    t.text('dedup_header');
    t.integer('rate_limit_per_minute');
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create index webhooks_flow on webhooks (flow_id, id)');

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id');
    t.text('webhook_id').notNullable().references('webhooks.id').onDelete('CASCADE');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('verification').notNullable();
    t.boolean('dedup_hit').notNullable().defaultTo(false);
    t.text('delivery_id');
    t.text('execution_id').references('executions.id').onDelete('SET NULL');
    t.integer('status').notNullable();
    t.integer('latency_ms').notNullable();
    t.text('error');
  });
  await knex.raw('create index webhook_deliveries_recent on webhook_deliveries (webhook_id, received_at)');

  await knex.schema.createTable('webhook_delivery_ids', (t) => {
    t.text('webhook_id').notNullable().references('webhooks.id').onDelete('CASCADE');
    t.text('delivery_id').notNullable();
    t.text('execution_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['webhook_id', 'delivery_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_delivery_ids');
  await knex.schema.dropTableIfExists('webhook_deliveries');
  await knex.schema.dropTableIfExists('webhooks');
}
