import type { Knex } from 'knex';

/**
 * Schedules and their ledger. A schedule row holds the next due time (`next_slot_at`) and when it
 * fires (`next_fire_at`, jitter included); the firing loop claims due rows with `FOR UPDATE SKIP
 * LOCKED` and, in the same transaction, writes one `schedule_fires` row per due time (unique per
 * schedule and time), starts the executions and moves the schedule on. Executions remember the
 * trigger that started them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('schedules', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('flow_id').notNullable().references('flows.id').onDelete('CASCADE');
    t.integer('flow_version');
    t.jsonb('input').notNullable().defaultTo('{}');
    t.text('cron');
    t.integer('interval_seconds');
    t.timestamp('starts_at', { useTz: true });
    t.text('timezone').notNullable().defaultTo('UTC');
    t.text('overlap_policy').notNullable().defaultTo('skip');
    t.integer('catchup_window_seconds').notNullable().defaultTo(0);
    t.integer('jitter_seconds').notNullable().defaultTo(0);
    t.timestamp('paused_at', { useTz: true });
    t.text('paused_by');
    t.text('pause_note');
    t.timestamp('next_slot_at', { useTz: true }).notNullable();
    t.timestamp('next_fire_at', { useTz: true }).notNullable();
    t.text('last_execution_id');
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'alter table schedules add constraint schedules_one_clock check ((cron is null) <> (interval_seconds is null))',
  );
  await knex.raw('create index schedules_due on schedules (next_fire_at)');
  await knex.raw('create index schedules_account on schedules (account_id, id)');

  await knex.schema.createTable('schedule_fires', (t) => {
    t.bigIncrements('id');
    t.text('schedule_id').notNullable().references('schedules.id').onDelete('CASCADE');
    t.timestamp('scheduled_at', { useTz: true }).notNullable();
    t.text('status').notNullable();
    t.text('reason');
    t.text('error');
    t.text('execution_id').references('executions.id').onDelete('SET NULL');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['schedule_id', 'scheduled_at']);
  });
  await knex.raw("create index schedule_fires_buffered on schedule_fires (schedule_id) where status = 'buffered'");

  await knex.raw('alter table executions add column trigger jsonb');
  await knex.raw("create index executions_trigger on executions ((trigger->>'id'), id) where trigger is not null");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists executions_trigger');
  await knex.raw('alter table executions drop column if exists trigger');
  await knex.schema.dropTableIfExists('schedule_fires');
  await knex.schema.dropTableIfExists('schedules');
}
