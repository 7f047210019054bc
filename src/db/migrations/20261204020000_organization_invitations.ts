import type { Knex } from 'knex';

/**
 * Invitations into a team's organization (issue 16): an email and the role it will have. The
 * account with that email accepts (and becomes a member) or declines; an owner or the inviter's
 * peers revoke it. A row stays after its answer (its `status`), for the record; at most one
 * invitation per organization and email is pending at a time. `invited_by` is kept as a plain id
 * (no foreign key): the inviter's deletion leaves the invitation standing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organization_invitations', (t) => {
    t.text('id').primary();
    t.text('organization_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.text('email').notNullable();
    t.text('role').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.text('invited_by').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('responded_at', { useTz: true });
    t.index(['organization_id', 'id']);
  });
  await knex.raw(
    "alter table organization_invitations add constraint organization_invitations_role check (role in ('owner', 'editor', 'runner', 'viewer'))",
  );
  await knex.raw(
    "alter table organization_invitations add constraint organization_invitations_status check (status in ('pending', 'accepted', 'declined', 'revoked', 'expired'))",
  );
  await knex.raw(
    "create unique index organization_invitations_pending on organization_invitations (organization_id, lower(email)) where status = 'pending'",
  );
  await knex.raw(
    "create index organization_invitations_invitee on organization_invitations (lower(email), id) where status = 'pending'",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('organization_invitations');
}
