import type { Knex } from 'knex';

/**
 * Retry and rerun: a rerun names the execution it reruns (`rerun_of`; a purged original leaves
 * it pointing nowhere rather than taking its reruns with it), and an execution counts how many
 * times it was retried.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.text('rerun_of').nullable().references('id').inTable('executions').onDelete('SET NULL');
    t.integer('retries').notNullable().defaultTo(0);
    t.index(['rerun_of'], 'executions_rerun_of_idx', { predicate: knex.whereNotNull('rerun_of') });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.dropIndex(['rerun_of'], 'executions_rerun_of_idx');
    t.dropColumn('rerun_of');
    t.dropColumn('retries');
  });
}
