import type { Knex } from 'knex';

/**
 * Concurrency limits and rate limits.
 *
 * - `executions.concurrency_key`: the key a limited flow's execution was admitted (or queued)
 *   under; null for every execution of a flow without a `concurrency` block.
 * - `concurrency_keys`: one row per (flow, key) with the limit the latest start saw. Its row lock
 *   is what admissions and releases of that key take first, so they happen one at a time.
 * - `concurrency_slots`: one row per limited execution that is not final: `holding` when it holds
 *   a slot (its tasks may run), else it waits in `seq` order (FIFO per key) without a task.
 * - A row trigger releases the slot of an execution in the statement that makes it final (a
 *   batch of steps, a cancel, an engine failure: whichever) and admits the oldest waiting ones in
 *   its place, inserting their entry tasks: release and admission commit with that step or not at
 *   all. Its WHEN clause is evaluated without calling the function, so executions of flows
 *   without a limit pay nothing.
 * - `rate_limits`: a node's `rate_limit` bucket per account and key, as GCRA's theoretical arrival
 *   time (`tat`): one upsert reserves a call's time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.text('concurrency_key').nullable();
  });
  await knex.raw(`
    create table concurrency_keys (
      flow_id text not null references flows(id) on delete cascade,
      key text not null,
      "limit" integer not null check ("limit" > 0),
      primary key (flow_id, key)
    )`);
  await knex.raw(`
    create table concurrency_slots (
      execution_id text primary key references executions(id) on delete cascade,
      flow_id text not null,
      key text not null,
      holding boolean not null,
      entry text not null,
      seq bigserial not null
    )`);
  await knex.raw('create index concurrency_slots_key on concurrency_slots (flow_id, key, holding, seq)');
  await knex.raw(`
    create table rate_limits (
      account_id text not null,
      key text not null,
      tat timestamptz not null,
      primary key (account_id, key)
    )`);
  await knex.raw(`
    create function flowrunner_release_slot() returns trigger language plpgsql as $$
    declare
      k concurrency_keys%rowtype;
      next_slot concurrency_slots%rowtype;
      admitted boolean := false;
    begin
      select * into k from concurrency_keys
       where flow_id = new.flow_id and key = new.concurrency_key for update;
      delete from concurrency_slots where execution_id = new.id;
      if not found or k.flow_id is null then
        return null;
      end if;
      loop
        exit when (select count(*) from concurrency_slots
                    where flow_id = k.flow_id and key = k.key and holding) >= k."limit";
        update concurrency_slots s set holding = true
         where s.execution_id = (select w.execution_id from concurrency_slots w
                                  where w.flow_id = k.flow_id and w.key = k.key and not w.holding
                                  order by w.seq limit 1)
        returning * into next_slot;
        exit when not found;
        insert into tasks (execution_id, account_id, node_id)
        select e.id, e.account_id, next_slot.entry from executions e
         where e.id = next_slot.execution_id and e.status = 'queued';
        admitted := true;
      end loop;
      if admitted then
        perform pg_notify('flowrunner_tasks', k.flow_id);
      end if;
      return null;
    end
    $$`);
  await knex.raw(`
    create trigger executions_release_slot
      after update of status on executions
      for each row
      when (new.concurrency_key is not null
            and new.status in ('completed', 'failed', 'cancelled')
            and old.status not in ('completed', 'failed', 'cancelled'))
      execute function flowrunner_release_slot()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists executions_release_slot on executions');
  await knex.raw('drop function if exists flowrunner_release_slot()');
  await knex.raw('drop table if exists rate_limits');
  await knex.raw('drop table if exists concurrency_slots');
  await knex.raw('drop table if exists concurrency_keys');
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('concurrency_key');
  });
}
