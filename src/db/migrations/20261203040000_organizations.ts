import type { Knex } from 'knex';

/**
 * Issue 16's organizations. An organization has members with roles; flows, flow requests,
 * schedules, webhooks, listeners and executions belong to one (`organization_id`; `account_id`
 * stays: who created it). Every account has a personal organization (`personal_account_id`), made
 * here for the accounts that exist and by a trigger on `accounts` for new ones, and everything an account
 * owned moves into it, so nothing changes for a single user.
 *
 * A row inserted without an organization (code written before organizations, e.g. another
 * resource's repository) gets its creator's personal organization from a trigger, so the column
 * can be NOT NULL everywhere. The tables of other resources (`files`, `connections`) are included
 * when they exist at this point.
 */
const OWNED = ['flows', 'flow_requests', 'schedules', 'webhooks', 'listeners', 'executions', 'files', 'connections'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organizations', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    // Set for an account's personal organization (one each); null for a team's.
    t.text('personal_account_id').unique().references('accounts.id').onDelete('CASCADE');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('organization_members', (t) => {
    t.text('organization_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('role').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['organization_id', 'account_id']);
    t.index(['account_id']);
  });
  await knex.raw(
    "alter table organization_members add constraint organization_members_role check (role in ('owner', 'editor', 'runner', 'viewer'))",
  );
  // Personal organizations: the account's id with the `org-` prefix (ids are `acct-<ULID>`).
  await knex.raw(
    `insert into organizations (id, name, personal_account_id, created_by, created_at, updated_at)
     select 'org-' || regexp_replace(id, '^acct-', ''), name, id, id, created_at, created_at from accounts`,
  );
  await knex.raw(
    `insert into organization_members (organization_id, account_id, role, created_at, updated_at)
     select id, personal_account_id, 'owner', created_at, created_at from organizations`,
  );
  // A new account gets its personal organization in the transaction that inserts it, whichever
  // code inserts it (local accounts, provisioned identities, the first admin).
  await knex.raw(`
    create function create_personal_organization() returns trigger language plpgsql as $$
    begin
      insert into organizations (id, name, personal_account_id, created_by)
        values ('org-' || regexp_replace(new.id, '^acct-', ''), new.name, new.id, new.id);
      insert into organization_members (organization_id, account_id, role)
        values ('org-' || regexp_replace(new.id, '^acct-', ''), new.id, 'owner');
      return new;
    end $$`);
  await knex.raw(
    'create trigger accounts_personal_organization after insert on accounts for each row execute function create_personal_organization()',
  );
  await knex.raw(`
    create function fill_personal_organization() returns trigger language plpgsql as $$
    begin
      if new.organization_id is null then
        select id into new.organization_id from organizations where personal_account_id = new.account_id;
      end if;
      return new;
    end $$`);
  await knex.schema.alterTable('api_keys', (t) => {
    // Null for the keys made before organizations: they act with all their creator's memberships.
    t.text('organization_id').references('organizations.id').onDelete('CASCADE');
    t.text('organization_role');
  });
  for (const table of OWNED) {
    if (!(await knex.schema.hasTable(table))) continue;
    await knex.raw(`alter table ?? add column organization_id text references organizations (id) on delete cascade`, [
      table,
    ]);
    await knex.raw(
      `update ?? t set organization_id = o.id from organizations o where o.personal_account_id = t.account_id`,
      [table],
    );
    await knex.raw(`alter table ?? alter column organization_id set not null`, [table]);
    await knex.raw(`create index ?? on ?? (organization_id, id)`, [`${table}_organization`, table]);
    await knex.raw(
      `create trigger ?? before insert on ?? for each row when (new.organization_id is null) execute function fill_personal_organization()`,
      [`${table}_personal_organization`, table],
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of OWNED) {
    if (!(await knex.schema.hasTable(table))) continue;
    await knex.raw(`drop trigger if exists ?? on ??`, [`${table}_personal_organization`, table]);
    await knex.raw(`alter table ?? drop column if exists organization_id`, [table]);
  }
  await knex.schema.alterTable('api_keys', (t) => {
    t.dropColumn('organization_id');
    t.dropColumn('organization_role');
  });
  await knex.raw('drop function if exists fill_personal_organization()');
  await knex.raw('drop trigger if exists accounts_personal_organization on accounts');
  await knex.raw('drop function if exists create_personal_organization()');
  await knex.schema.dropTable('organization_members');
  await knex.schema.dropTable('organizations');
}
