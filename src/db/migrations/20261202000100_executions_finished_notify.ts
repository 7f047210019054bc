import type { Knex } from 'knex';

/**
 * Run-and-wait and long polls learn that an execution finished from this trigger rather than from
 * the engine's code, so any statement that makes executions final — one row or a batch — wakes
 * them. One NOTIFY per statement, naming every execution that became final in it (comma-separated,
 * in payloads under NOTIFY's 8000-byte limit); none when no row became final. A statement-level
 * trigger with transition tables costs one call per statement, not one per row.
 */
const CHANNEL = 'flowrunner_finished';
// NOTIFY refuses payloads of 8000 bytes or more; execution ids are ASCII.
const MAX_PAYLOAD_BYTES = 7900;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function flowrunner_notify_finished() returns trigger language plpgsql as $$
    declare
      finished_id text;
      payload text;
    begin
      -- Most updates finish nothing: they leave before the join.
      if not exists (select 1 from finished_new where status in ('completed', 'failed', 'cancelled')) then
        return null;
      end if;
      select string_agg(n.id, ',') into payload
        from finished_new n
        join finished_old o on o.id = n.id
       where n.status in ('completed', 'failed', 'cancelled')
         and o.status not in ('completed', 'failed', 'cancelled');
      if payload is null then
        return null;
      end if;
      if octet_length(payload) <= ${MAX_PAYLOAD_BYTES} then
        perform pg_notify('${CHANNEL}', payload);
        return null;
      end if;
      -- A long list goes out in several payloads.
      payload := '';
      for finished_id in
        select n.id
          from finished_new n
          join finished_old o on o.id = n.id
         where n.status in ('completed', 'failed', 'cancelled')
           and o.status not in ('completed', 'failed', 'cancelled')
      loop
        if payload <> '' and octet_length(payload) + 1 + octet_length(finished_id) > ${MAX_PAYLOAD_BYTES} then
          perform pg_notify('${CHANNEL}', payload);
          payload := '';
        end if;
        payload := case when payload = '' then finished_id else payload || ',' || finished_id end;
      end loop;
      perform pg_notify('${CHANNEL}', payload);
      return null;
    end
    $$`);
  await knex.raw(`
    create trigger executions_notify_finished
      after update on executions
      referencing old table as finished_old new table as finished_new
      for each statement execute function flowrunner_notify_finished()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists executions_notify_finished on executions');
  await knex.raw('drop function if exists flowrunner_notify_finished()');
}
