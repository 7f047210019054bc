import type { Knex } from 'knex';

/**
 * What an execution's progress shows (`progress` on executions and runs): when its current node
 * began, until when it waits (a wait's deadline, a delay's end), and how many nodes its pinned
 * definition has, set when it is created (existing executions get theirs from their version).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.timestamp('node_started_at', { useTz: true }).nullable();
    t.timestamp('waiting_until', { useTz: true }).nullable();
    t.integer('nodes_total').notNullable().defaultTo(0);
  });
  await knex.raw(`
    update executions e
       set nodes_total = (select count(*) from jsonb_object_keys(coalesce(v.document -> 'nodes', '{}'::jsonb)))
      from flow_versions v
     where v.flow_id = e.flow_id and v.number = e.flow_version`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('node_started_at');
    t.dropColumn('waiting_until');
    t.dropColumn('nodes_total');
  });
}
