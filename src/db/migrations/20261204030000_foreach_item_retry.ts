import type { Knex } from 'knex';

/**
 * Retrying a foreach's items: an item to retry goes back to `pending` keeping its child execution
 * (`foreach_items.child_execution_id`), and the foreach resumes that child instead of starting a
 * new one when the item's turn comes. `foreach_runs.retried_by` names who asked, for the retry's
 * log line on each child resumed later.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('foreach_runs', (t) => {
    t.text('retried_by').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('foreach_runs', (t) => {
    t.dropColumn('retried_by');
  });
}
