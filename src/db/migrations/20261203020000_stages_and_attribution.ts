import type { Knex } from 'knex';

/**
 * Issue 15's draft and live stages, named runs and attribution: a flow's live version and who
 * created and last changed it; an execution's stage (what it was started on) and name. Existing
 * executions ran their flow's latest version, so they are `draft`; existing flows were created by
 * their first version's author and last changed by their current version's.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('flows', (t) => {
    t.integer('live_version');
    t.text('created_by');
    t.text('updated_by');
  });
  await knex.raw(`
    update flows f
       set created_by = coalesce((select v.created_by from flow_versions v where v.flow_id = f.id and v.number = 1), f.account_id),
           updated_by = coalesce((select v.created_by from flow_versions v where v.flow_id = f.id and v.number = f.current_version), f.account_id)`);
  await knex.schema.alterTable('executions', (t) => {
    t.text('stage').notNullable().defaultTo('draft');
    t.text('name');
  });
  await knex.raw('create index executions_name on executions (name) where name is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists executions_name');
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('stage');
    t.dropColumn('name');
  });
  await knex.schema.alterTable('flows', (t) => {
    t.dropColumn('live_version');
    t.dropColumn('created_by');
    t.dropColumn('updated_by');
  });
}
