import type { Knex } from 'knex';

/**
 * The listeners of an execution and of its flow, read with a snapshot of their own. The engine's
 * batch write queues deliveries in the same statement that takes its executions' row locks; a
 * listener added while that statement waited for a lock is committed by then, but the statement's
 * own snapshot is older. A plpgsql function (never inlined) reads with a fresh snapshot, so the
 * write sees every listener whose creation it waited for.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function flowrunner_listeners_of(p_execution_id text, p_flow_id text) returns setof listeners
    language plpgsql volatile as $$
    begin
      return query
        select * from listeners where execution_id = p_execution_id
        union all
        select * from listeners where flow_id = p_flow_id;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists flowrunner_listeners_of(text, text)');
}
