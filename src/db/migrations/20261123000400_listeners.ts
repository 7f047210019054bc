import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // A webhook for one execution's events, or for every execution of a flow.
  await knex.schema.createTable('listeners', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('execution_id').references('executions.id').onDelete('CASCADE');
    t.text('flow_id').references('flows.id').onDelete('CASCADE');
    t.text('url').notNullable();
    t.specificType('events', 'text[]');
    t.binary('secret').notNullable();
    t.text('last_delivery_status');
    t.timestamp('last_delivery_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'alter table listeners add constraint listeners_one_target check ((execution_id is null) <> (flow_id is null))',
  );
  await knex.raw('create index listeners_execution on listeners (execution_id) where execution_id is not null');
  await knex.raw('create index listeners_flow on listeners (flow_id) where flow_id is not null');

  // The outbox: one row per (listener, event), written with the event; delivered in id order per listener.
  await knex.schema.createTable('deliveries', (t) => {
    t.bigIncrements('id');
    t.text('listener_id').notNullable().references('listeners.id').onDelete('CASCADE');
    t.bigInteger('event_id').notNullable().references('events.id').onDelete('CASCADE');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('failed_at', { useTz: true });
    t.integer('last_status');
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'create index deliveries_pending on deliveries (listener_id, id) where delivered_at is null and failed_at is null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('deliveries');
  await knex.schema.dropTableIfExists('listeners');
}
