import type { Knex } from 'knex';

/**
 * Issue 16: secrets belong to an organization like every other object, and names are unique per
 * organization rather than per creator.
 *
 * - `secrets` gets `organization_id` (each existing secret goes into its account's personal
 *   organization, and a row inserted without one gets it from the same trigger as the other
 *   tables), and its key becomes (organization_id, key). `account_id` stays: who created it; the
 *   ciphertext stays sealed with it as context, so no secret needs the key to be moved.
 * - A live flow's name and a connection's name become unique per organization. Two members of a
 *   team may have used one name before this; all but the first of each such set are renamed
 *   with the end of their id as a suffix (`billing-7k3m9q2x`), so the index can be built
 *   (connections keep to their name pattern).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table secrets add column organization_id text references organizations (id) on delete cascade');
  await knex.raw(
    'update secrets s set organization_id = o.id from organizations o where o.personal_account_id = s.account_id',
  );
  await knex.raw('alter table secrets alter column organization_id set not null');
  await knex.raw('alter table secrets drop constraint secrets_pkey');
  await knex.raw('alter table secrets add primary key (organization_id, key)');
  // The cascade from a deleted account.
  await knex.raw('create index secrets_account on secrets (account_id)');
  await knex.raw(
    'create trigger secrets_personal_organization before insert on secrets for each row when (new.organization_id is null) execute function fill_personal_organization()',
  );

  await renameDuplicates(knex, 'flows', 'organization_id', 'deleted_at is null');
  await knex.raw('drop index flows_live_name_unique');
  await knex.raw(
    'create unique index flows_live_name_unique on flows (organization_id, name) where deleted_at is null',
  );

  await renameDuplicates(knex, 'connections', 'organization_id');
  await knex.raw('alter table connections drop constraint connections_account_id_name_unique');
  await knex.raw(
    'alter table connections add constraint connections_organization_id_name_unique unique (organization_id, name)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await renameDuplicates(knex, 'connections', 'account_id');
  await knex.raw('alter table connections drop constraint connections_organization_id_name_unique');
  await knex.raw('alter table connections add constraint connections_account_id_name_unique unique (account_id, name)');

  await renameDuplicates(knex, 'flows', 'account_id', 'deleted_at is null');
  await knex.raw('drop index flows_live_name_unique');
  await knex.raw('create unique index flows_live_name_unique on flows (account_id, name) where deleted_at is null');

  // Per account again: a secret of a team's organization has no place (its creator may have the
  // same key in their personal one), so only the personal organizations' secrets remain.
  await knex.raw(
    `delete from secrets s using organizations o
     where o.id = s.organization_id and o.personal_account_id is distinct from s.account_id`,
  );
  await knex.raw('drop trigger secrets_personal_organization on secrets');
  await knex.raw('drop index secrets_account');
  await knex.raw('alter table secrets drop constraint secrets_pkey');
  await knex.raw('alter table secrets add primary key (account_id, key)');
  await knex.raw('alter table secrets drop column organization_id');
}

/** Renames all but the oldest row of each (owner, name) among `where`, suffixed with the end of its id. */
async function renameDuplicates(knex: Knex, table: string, owner: string, where = 'true'): Promise<void> {
  await knex.raw(
    `update ?? t set name = t.name || '-' || lower(right(t.id, 8))
     from (select id, row_number() over (partition by ??, name order by created_at, id) as n
           from ?? where ${where}) d
     where t.id = d.id and d.n > 1`,
    [table, owner, table],
  );
}
