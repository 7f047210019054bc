import type { Knex } from 'knex';

/**
 * Files (002's file inputs), stored in PostgreSQL so that any API process serves any file: the
 * metadata in `files`, the bytes in `file_chunks` (fixed-size bytea rows, written and read one at a
 * time as a stream), and which executions took a file as input or saved it as output in
 * `execution_files`. An execution also keeps a copy of its input files' metadata (`input_files`),
 * which its templates read as `files`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('files', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('content_type').notNullable();
    t.bigInteger('size').notNullable().defaultTo(0);
    t.text('sha256').notNullable().defaultTo('');
    t.text('created_by');
    t.text('execution_id').references('executions.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'id']);
    t.index(['execution_id']);
  });
  await knex.schema.createTable('file_chunks', (t) => {
    t.text('file_id').notNullable().references('files.id').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.binary('data').notNullable();
    t.primary(['file_id', 'seq']);
  });
  // Out of line and uncompressed: most uploads are compressed already, and a range read then
  // fetches only the chunks it needs without inflating them.
  await knex.raw('alter table file_chunks alter column data set storage external');
  await knex.schema.createTable('execution_files', (t) => {
    t.text('execution_id').notNullable().references('executions.id').onDelete('CASCADE');
    t.text('role').notNullable();
    t.integer('position').notNullable();
    t.text('file_id').notNullable().references('files.id').onDelete('CASCADE');
    t.text('node_id');
    t.primary(['execution_id', 'role', 'position']);
    t.index(['file_id']);
  });
  await knex.schema.alterTable('executions', (t) => {
    t.jsonb('input_files');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('executions', (t) => {
    t.dropColumn('input_files');
  });
  await knex.schema.dropTable('execution_files');
  await knex.schema.dropTable('file_chunks');
  await knex.schema.dropTable('files');
}
