import type { Knex } from 'knex';

/**
 * The listeners of many executions and of their flows in one call, read with a snapshot of its
 * own — what `flowrunner_listeners_of` (20261202000300) does for one execution, for a whole step
 * batch: a plpgsql function called once per row cost the batch statement more than the rest of
 * its work together (a fresh snapshot and a result set per call).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function flowrunner_listeners_of_executions(p_execution_ids text[], p_flow_ids text[])
      returns table (execution_id text, listener_id text, events text[])
      language plpgsql volatile as $$
    begin
      return query
        select l.execution_id, l.id, l.events
          from listeners l where l.execution_id = any(p_execution_ids)
        union all
        select e.id, l.id, l.events
          from unnest(p_execution_ids, p_flow_ids) as e(id, flow_id)
          join listeners l on l.flow_id = e.flow_id;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists flowrunner_listeners_of_executions(text[], text[])');
}
