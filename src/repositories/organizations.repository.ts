import type { Db, Tx } from '../db/knex';
import type { OrganizationMemberRow, OrganizationRole, OrganizationRow } from '../db/tables';

/** An organization with the role of the account that asked (null for an admin who is no member). */
export type OrganizationWithRole = OrganizationRow & { role: OrganizationRole | null };

export async function insertOrganization(
  tx: Tx,
  row: Omit<OrganizationRow, 'created_at' | 'updated_at'>,
): Promise<OrganizationRow> {
  const [created] = await tx<OrganizationRow>('organizations').insert(row).returning('*');
  return created;
}

export async function findOrganization(
  db: Db,
  id: string,
  memberId: string,
): Promise<OrganizationWithRole | undefined> {
  return db('organizations as o')
    .leftJoin('organization_members as m', (j) => j.on('m.organization_id', 'o.id').andOnVal('m.account_id', memberId))
    .where('o.id', id)
    .first('o.*', 'm.role');
}

/** The organizations `memberId` belongs to, or every one (`all`, for an admin), newest first. */
export async function listOrganizationRows(
  db: Db,
  filter: { memberId: string; all: boolean; limit: number; offset: number },
): Promise<{ rows: OrganizationWithRole[]; total: number }> {
  const q = db('organizations as o').leftJoin('organization_members as m', (j) =>
    j.on('m.organization_id', 'o.id').andOnVal('m.account_id', filter.memberId),
  );
  if (!filter.all) q.whereNotNull('m.role');
  const [{ count }] = await q.clone().count<{ count: string }[]>('* as count');
  const rows = await q.select('o.*', 'm.role').orderBy('o.id', 'desc').limit(filter.limit).offset(filter.offset);
  return { rows, total: Number(count) };
}

export async function updateOrganizationRow(tx: Tx, id: string, changes: { name?: string }): Promise<void> {
  await tx('organizations')
    .where({ id })
    .update({ ...changes, updated_at: tx.fn.now() });
}

/** Every organization an account belongs to, with its role (authentication caches it per account). */
export async function listMembershipsOf(
  db: Db,
  accountId: string,
): Promise<Pick<OrganizationMemberRow, 'organization_id' | 'role'>[]> {
  return db<OrganizationMemberRow>('organization_members')
    .where({ account_id: accountId })
    .select('organization_id', 'role');
}

export type MemberWithAccount = OrganizationMemberRow & { email: string; name: string };

export async function listMemberRows(
  db: Db,
  organizationId: string,
  limit: number,
  offset: number,
): Promise<{ rows: MemberWithAccount[]; total: number }> {
  const q = db('organization_members as m')
    .join('accounts as a', 'a.id', 'm.account_id')
    .where('m.organization_id', organizationId);
  const [{ count }] = await q.clone().count<{ count: string }[]>('* as count');
  const rows = await q
    .select('m.*', 'a.email', 'a.name')
    .orderBy('m.created_at', 'asc')
    .orderBy('m.account_id', 'asc')
    .limit(limit)
    .offset(offset);
  return { rows, total: Number(count) };
}

export async function findMemberRow(
  db: Db,
  organizationId: string,
  accountId: string,
): Promise<MemberWithAccount | undefined> {
  return db('organization_members as m')
    .join('accounts as a', 'a.id', 'm.account_id')
    .where({ 'm.organization_id': organizationId, 'm.account_id': accountId })
    .first('m.*', 'a.email', 'a.name');
}

/** Inserts the membership; false when the account is a member already. */
export async function insertMember(
  tx: Tx,
  row: Pick<OrganizationMemberRow, 'organization_id' | 'account_id' | 'role'>,
): Promise<boolean> {
  const inserted = await tx('organization_members').insert(row).onConflict(['organization_id', 'account_id']).ignore();
  return ((inserted as unknown as { rowCount?: number }).rowCount ?? 0) > 0;
}

export async function updateMemberRole(
  tx: Tx,
  organizationId: string,
  accountId: string,
  role: OrganizationRole,
): Promise<boolean> {
  const n = await tx('organization_members')
    .where({ organization_id: organizationId, account_id: accountId })
    .update({ role, updated_at: tx.fn.now() });
  return n > 0;
}

export async function deleteMemberRow(tx: Tx, organizationId: string, accountId: string): Promise<boolean> {
  const n = await tx('organization_members').where({ organization_id: organizationId, account_id: accountId }).delete();
  return n > 0;
}

/**
 * Locks the organization row, so changes of its members take turns (two owners cannot each
 * demote "the other" last owner); undefined when there is no such organization.
 */
export async function lockOrganization(tx: Tx, id: string): Promise<OrganizationRow | undefined> {
  return tx<OrganizationRow>('organizations').where({ id }).forUpdate().first();
}

export async function listMemberRoles(
  tx: Tx,
  organizationId: string,
): Promise<Pick<OrganizationMemberRow, 'account_id' | 'role'>[]> {
  return tx<OrganizationMemberRow>('organization_members')
    .where({ organization_id: organizationId })
    .orderBy('created_at', 'asc')
    .orderBy('account_id', 'asc')
    .select('account_id', 'role');
}

export async function organizationExists(db: Db, id: string): Promise<boolean> {
  return (await db('organizations').where({ id }).first('id')) !== undefined;
}

/** The tables whose rows belong to an organization and name their creator in `account_id`. */
const OWNED = [
  'flows',
  'flow_requests',
  'schedules',
  'webhooks',
  'listeners',
  'executions',
  'files',
  'connections',
  'secrets',
];

/**
 * The team organizations (not personal ones) that an account belongs to or that hold rows it
 * created (it may have left since), in id order.
 */
export async function listTeamOrganizationsOf(tx: Tx, accountId: string): Promise<string[]> {
  const holding = OWNED.map((table) => tx(table).where({ account_id: accountId }).distinct('organization_id'));
  const rows = await tx('organizations as o')
    .whereNull('o.personal_account_id')
    .where((w) => {
      void w
        .whereIn('o.id', tx('organization_members').where({ account_id: accountId }).select('organization_id'))
        .orWhereIn('o.id', tx.union(holding, true));
    })
    .orderBy('o.id')
    .select('o.id');
  return rows.map((r: { id: string }) => r.id);
}

/**
 * What caches hold of an organization's contents, read before it is deleted: its flows (cached
 * per id) and the hashes of its API keys (cached per hash).
 */
export async function listOrganizationCachedKeys(
  tx: Tx,
  organizationId: string,
): Promise<{ flowIds: string[]; keyHashes: string[] }> {
  const flows = await tx('flows').where({ organization_id: organizationId }).select('id');
  const keys = await tx('api_keys').where({ organization_id: organizationId }).select('key_hash');
  return {
    flowIds: flows.map((r: { id: string }) => r.id),
    keyHashes: keys.map((r: { key_hash: string }) => r.key_hash),
  };
}

/** Deletes the organization; everything in it goes with it (ON DELETE CASCADE on `organization_id`). */
export async function deleteOrganizationRow(tx: Tx, id: string): Promise<void> {
  await tx('organizations').where({ id }).delete();
}

/**
 * Hands what `from` created in an organization to `to` (`account_id`), before `from` is deleted:
 * the rows would otherwise go with it (ON DELETE CASCADE). The executions' tasks follow their
 * execution, since claims take accounts in turn by the task's account.
 */
export async function handOverCreatedRows(tx: Tx, organizationId: string, from: string, to: string): Promise<void> {
  await tx('tasks')
    .where({ account_id: from })
    .whereIn('execution_id', tx('executions').where({ organization_id: organizationId }).select('id'))
    .update({ account_id: to });
  for (const table of OWNED) {
    await tx(table).where({ organization_id: organizationId, account_id: from }).update({ account_id: to });
  }
}
