import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('executions', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('flow_id').notNullable();
    t.integer('flow_version').notNullable();
    t.foreign(['flow_id', 'flow_version']).references(['flow_id', 'number']).inTable('flow_versions');
    t.text('status').notNullable().checkIn(['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled']);
    t.text('client_id');
    t.jsonb('input').notNullable();
    t.jsonb('result');
    t.text('error');
    t.text('current_node');
    // What the nodes produced so far, for `nodes.<id>.output` in templates.
    t.jsonb('node_outputs').notNullable().defaultTo('{}');
    t.jsonb('state_values').notNullable().defaultTo('{}');
    t.integer('step_count').notNullable().defaultTo(0);
    // The last event's seq; the next event takes event_seq + 1 under this row's lock.
    t.integer('event_seq').notNullable().defaultTo(0);
    t.text('parent_execution_id');
    t.text('approval_status');
    t.jsonb('waiting_for');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true });
    t.timestamp('completed_at', { useTz: true });
  });
  await knex.raw('create index executions_account_id on executions (account_id, id desc)');
  await knex.raw('create index executions_flow on executions (flow_id, id desc)');

  // Runnable work: one row per node attempt to run. Claimed with FOR UPDATE SKIP LOCKED under a lease.
  await knex.schema.createTable('tasks', (t) => {
    t.bigIncrements('id');
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.text('node_id').notNullable();
    t.integer('attempt').notNullable().defaultTo(1);
    t.timestamp('run_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('lease_owner');
    t.timestamp('lease_expires_at', { useTz: true });
    // A node's own progress across claims (a delay that has started sleeping).
    t.jsonb('state');
  });
  await knex.raw('create index tasks_runnable on tasks (run_at, id)');
  await knex.raw('create index tasks_execution on tasks (execution_id)');

  await knex.schema.createTable('steps', (t) => {
    t.text('id').primary();
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.text('node_id').notNullable();
    t.text('node_type').notNullable();
    t.integer('attempt').notNullable();
    t.text('status').notNullable();
    t.jsonb('input');
    t.jsonb('output');
    t.text('error');
    t.text('actor_id');
    t.timestamp('started_at', { useTz: true });
    t.timestamp('completed_at', { useTz: true });
  });
  await knex.raw('create index steps_execution on steps (execution_id, started_at, id)');

  await knex.schema.createTable('events', (t) => {
    t.bigIncrements('id');
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.text('type').notNullable();
    t.text('level');
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['execution_id', 'seq']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    t.text('execution_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['idempotency_keys', 'events', 'steps', 'tasks', 'executions'])
    await knex.schema.dropTableIfExists(table);
}
