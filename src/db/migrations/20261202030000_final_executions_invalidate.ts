import type { Knex } from 'knex';

/**
 * Finished executions are cached by every API process (a GET of one reads no database), so any
 * change to a finished execution's row tells the processes to drop it, whatever code makes it:
 * an update of a finished row (a retry, a value set afterwards) or its deletion (a purge, its
 * account deleted). Updates of running executions — the engine's hot path — never call the
 * function (the row trigger's WHEN is checked first). A deletion of many rows at once sends one
 * `execution:*` (drop all) instead of one message per row.
 */
const CHANNEL = 'flowrunner_invalidate';
const FINAL = `('completed', 'failed', 'cancelled')`;
/** Above this many finished rows deleted by one statement, the caches are emptied instead. */
const MAX_ONE_BY_ONE = 50;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function flowrunner_invalidate_final_execution() returns trigger language plpgsql as $$
    begin
      perform pg_notify('${CHANNEL}', 'execution:' || old.id);
      return null;
    end
    $$`);
  await knex.raw(`
    create trigger executions_invalidate_final_update
      after update on executions
      for each row when (old.status in ${FINAL})
      execute function flowrunner_invalidate_final_execution()`);
  await knex.raw(`
    create function flowrunner_invalidate_final_executions_deleted() returns trigger language plpgsql as $$
    declare
      final_id text;
    begin
      if (select count(*) from (select 1 from deleted_old where status in ${FINAL} limit ${MAX_ONE_BY_ONE + 1}) d) > ${MAX_ONE_BY_ONE} then
        perform pg_notify('${CHANNEL}', 'execution:*');
        return null;
      end if;
      for final_id in select id from deleted_old where status in ${FINAL} loop
        perform pg_notify('${CHANNEL}', 'execution:' || final_id);
      end loop;
      return null;
    end
    $$`);
  await knex.raw(`
    create trigger executions_invalidate_final_delete
      after delete on executions
      referencing old table as deleted_old
      for each statement execute function flowrunner_invalidate_final_executions_deleted()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists executions_invalidate_final_delete on executions');
  await knex.raw('drop function if exists flowrunner_invalidate_final_executions_deleted()');
  await knex.raw('drop trigger if exists executions_invalidate_final_update on executions');
  await knex.raw('drop function if exists flowrunner_invalidate_final_execution()');
}
