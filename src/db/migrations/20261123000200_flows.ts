import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('flows', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.specificType('tags', 'text[]').notNullable().defaultTo('{}');
    t.integer('current_version').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
  });
  await knex.raw('create unique index flows_live_name_unique on flows (account_id, name) where deleted_at is null');
  await knex.raw('create index flows_live_created on flows (created_at desc, id desc) where deleted_at is null');
  await knex.raw('create index flows_tags on flows using gin (tags)');

  // Immutable: a row is written once and never updated; executions pin (flow_id, number).
  await knex.schema.createTable('flow_versions', (t) => {
    t.text('flow_id').notNullable().references('flows.id').onDelete('CASCADE');
    t.integer('number').notNullable();
    t.text('version_label');
    t.text('hash').notNullable();
    t.text('definition').notNullable();
    t.jsonb('document').notNullable();
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['flow_id', 'number']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('flow_versions');
  await knex.schema.dropTableIfExists('flows');
}
