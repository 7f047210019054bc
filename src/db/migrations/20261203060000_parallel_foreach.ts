import type { Knex } from 'knex';

/**
 * Parallel branches and foreach. A join's arrivals live on a row of their own, locked by the step
 * that arrives, so the join fires once whatever number of branches finish together. A foreach
 * keeps its items (and their results, in order) in rows, runs each as a child execution that
 * names its iteration (`executions.iteration`), and shows `done/total` on the parent
 * (`executions.foreach_progress`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('parallel_joins', (t) => {
    t.text('execution_id').notNullable().references('id').inTable('executions').onDelete('CASCADE');
    t.text('join_node').notNullable();
    t.text('parallel_node').notNullable();
    t.specificType('branches', 'text[]').notNullable();
    /** {branch: {status, output, error}} of the branches that arrived (or were cancelled). */
    t.jsonb('outcomes').notNullable().defaultTo('{}');
    t.boolean('fired').notNullable().defaultTo(false);
    t.primary(['execution_id', 'join_node']);
  });
  await knex.schema.createTable('foreach_runs', (t) => {
    t.text('execution_id').notNullable().references('id').inTable('executions').onDelete('CASCADE');
    t.text('node_id').notNullable();
    t.integer('attempt').notNullable();
    t.integer('total').notNullable();
    t.integer('concurrency').notNullable();
    t.text('on_item_error').notNullable();
    /** How an iteration runs: {entry, nodes_total} of the body, or a subflow's {flow_id, version, …}. */
    t.jsonb('body').notNullable();
    t.integer('done').notNullable().defaultTo(0);
    t.integer('failed').notNullable().defaultTo(0);
    /** running | completed | failed: a failed run starts nothing more. */
    t.text('status').notNullable().defaultTo('running');
    t.timestamp('last_event_at', { useTz: true });
    t.primary(['execution_id', 'node_id']);
  });
  await knex.schema.createTable('foreach_items', (t) => {
    t.text('execution_id').notNullable();
    t.text('node_id').notNullable();
    t.integer('idx').notNullable();
    t.jsonb('item');
    /** pending | running | completed | failed | cancelled */
    t.text('status').notNullable().defaultTo('pending');
    t.text('child_execution_id');
    t.jsonb('result');
    t.text('error');
    t.primary(['execution_id', 'node_id', 'idx']);
    t.foreign(['execution_id', 'node_id'])
      .references(['execution_id', 'node_id'])
      .inTable('foreach_runs')
      .onDelete('CASCADE');
  });
  await knex.raw(
    'create index foreach_items_child on foreach_items (child_execution_id) where child_execution_id is not null',
  );
  // The next item to start is the first pending one: without this, each pick walks the done ones.
  await knex.raw(
    "create index foreach_items_pending on foreach_items (execution_id, node_id, idx) where status = 'pending'",
  );
  await knex.schema.alterTable('executions', (t) => {
    /** On a foreach's child: {node_id, index, item, body}: which iteration of its parent it is. */
    t.jsonb('iteration');
    /** On a parent while a foreach runs (and after): {node_id, done, total, failed}. */
    t.jsonb('foreach_progress');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('iteration');
    t.dropColumn('foreach_progress');
  });
  await knex.schema.dropTable('foreach_items');
  await knex.schema.dropTable('foreach_runs');
  await knex.schema.dropTable('parallel_joins');
}
