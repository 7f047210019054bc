import type { Knex } from 'knex';

/**
 * Accounts of an OpenID Connect identity: `external_issuer` and `external_id` (the token's `iss`
 * and `sub`) name the identity, unique together; such an account has no password.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('external_issuer').nullable();
    t.text('external_id').nullable();
    t.unique(['external_issuer', 'external_id'], { indexName: 'accounts_external_identity' });
  });
  await knex.raw('alter table accounts alter column password_hash drop not null');
  await knex.raw(`alter table accounts add constraint accounts_external_pair
    check ((external_issuer is null) = (external_id is null))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("update accounts set password_hash = '!' where password_hash is null");
  await knex.raw('alter table accounts alter column password_hash set not null');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropUnique(['external_issuer', 'external_id'], 'accounts_external_identity');
    t.dropChecks(['accounts_external_pair']);
    t.dropColumn('external_issuer');
    t.dropColumn('external_id');
  });
}
