import type { Db, Tx } from '../db/knex';
import type { InvitationStatus, OrganizationInvitationRow } from '../db/tables';

/** An invitation with what presenting it needs: its organization's name and the inviter's email (null once deleted). */
export type InvitationWithNames = OrganizationInvitationRow & {
  organization_name: string;
  invited_by_email: string | null;
};

const WITH_NAMES = ['i.*', 'o.name as organization_name', 'a.email as invited_by_email'] as const;

function withNames(db: Db) {
  return db('organization_invitations as i')
    .join('organizations as o', 'o.id', 'i.organization_id')
    .leftJoin('accounts as a', 'a.id', 'i.invited_by');
}

export async function insertInvitation(
  tx: Tx,
  row: Omit<OrganizationInvitationRow, 'created_at' | 'responded_at' | 'status'>,
): Promise<void> {
  await tx('organization_invitations').insert(row);
}

export async function findInvitation(db: Db, id: string): Promise<InvitationWithNames | undefined> {
  return withNames(db)
    .where('i.id', id)
    .first(...WITH_NAMES);
}

/** Locks the invitation row, so an answer and a revocation take turns. */
export async function lockInvitation(tx: Tx, id: string): Promise<OrganizationInvitationRow | undefined> {
  return tx<OrganizationInvitationRow>('organization_invitations').where({ id }).forUpdate().first();
}

/** The pending invitation of an email into an organization (expired or not), if any. */
export async function findPendingInvitation(
  tx: Tx,
  organizationId: string,
  email: string,
): Promise<OrganizationInvitationRow | undefined> {
  return tx<OrganizationInvitationRow>('organization_invitations')
    .where({ organization_id: organizationId, status: 'pending' })
    .whereRaw('lower(email) = lower(?)', [email])
    .first();
}

export async function setInvitationStatus(tx: Tx, id: string, status: InvitationStatus): Promise<void> {
  await tx('organization_invitations').where({ id }).update({ status, responded_at: tx.fn.now() });
}

/** The invitations of an organization nobody answered or revoked yet (expired ones included), newest first. */
export async function listPendingInvitationRows(
  db: Db,
  organizationId: string,
  limit: number,
  offset: number,
): Promise<{ rows: InvitationWithNames[]; total: number }> {
  return page(withNames(db).where({ 'i.organization_id': organizationId, 'i.status': 'pending' }), limit, offset);
}

/** The pending, unexpired invitations addressed to an email (without case), newest first. */
export async function listInvitationRowsFor(
  db: Db,
  email: string,
  limit: number,
  offset: number,
): Promise<{ rows: InvitationWithNames[]; total: number }> {
  const q = withNames(db)
    .whereRaw('lower(i.email) = lower(?)', [email])
    .where('i.status', 'pending')
    .where('i.expires_at', '>', db.fn.now());
  return page(q, limit, offset);
}

/** A page of the invitations `q` selects, newest first, with how many there are in all. */
async function page(
  q: ReturnType<typeof withNames>,
  limit: number,
  offset: number,
): Promise<{ rows: InvitationWithNames[]; total: number }> {
  const [{ count }] = await q.clone().count<{ count: string }[]>('* as count');
  const rows = await q
    .select(...WITH_NAMES)
    .orderBy('i.id', 'desc')
    .limit(limit)
    .offset(offset);
  return { rows, total: Number(count) };
}
