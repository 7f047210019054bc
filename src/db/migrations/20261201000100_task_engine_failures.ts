import type { Knex } from 'knex';

/** How often the engine itself failed on a task (not the node): a poisoned task ends its execution. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tasks', (t) => {
    t.integer('engine_failures').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tasks', (t) => {
    t.dropColumn('engine_failures');
  });
}
