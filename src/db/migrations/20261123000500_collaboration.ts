import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.text('started_by');
    t.integer('depth').notNullable().defaultTo(0);
  });
  await knex.raw(
    'create index executions_parent on executions (parent_execution_id) where parent_execution_id is not null',
  );
  // Who else may read an execution, follow it and answer its waits.
  await knex.schema.createTable('execution_shares', (t) => {
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('shared_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['execution_id', 'account_id']);
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('execution_shares');
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('started_by');
    t.dropColumn('depth');
  });
}
