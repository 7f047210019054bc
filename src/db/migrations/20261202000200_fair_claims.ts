import type { Knex } from 'knex';

/**
 * Tasks carry their account so that claims can take accounts in turn (one account's backlog
 * doesn't starve another's), from an index of the unleased tasks only. An expired lease is
 * cleared by the workers' reaper, which puts its task back into that index.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table tasks add column account_id text');
  await knex.raw('update tasks t set account_id = e.account_id from executions e where e.id = t.execution_id');
  await knex.raw('alter table tasks alter column account_id set not null');
  await knex.raw('drop index if exists tasks_runnable');
  await knex.raw('create index tasks_ready on tasks (account_id, run_at, id) where lease_owner is null');
  await knex.raw('create index tasks_due on tasks (run_at) where lease_owner is null');
  await knex.raw('create index tasks_leased on tasks (lease_expires_at) where lease_owner is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists tasks_leased');
  await knex.raw('drop index if exists tasks_due');
  await knex.raw('drop index if exists tasks_ready');
  await knex.raw('create index tasks_runnable on tasks (run_at, id)');
  await knex.raw('alter table tasks drop column account_id');
}
