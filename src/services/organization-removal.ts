/**
 * Deleting an organization with everything in it: the one piece of code for `DELETE
 * /organizations/{id}` and for an account's deletion (its personal organization, and a team's it
 * was the only member of). Runs inside the caller's `committing` transaction, the organization
 * row already locked.
 *
 * The rows go by ON DELETE CASCADE on `organization_id` (flows and their versions, flow requests,
 * schedules, webhooks, listeners, connections, files, executions with their tasks, steps and
 * events, API keys of the organization, invitations, memberships). An execution that is running
 * stops where it is: its worker's commit finds no task and is dropped, as after an account's
 * deletion. What caches hold goes with it: the members' memberships (so they lose access on their
 * next request), the flows, the organization's keys and secrets, and the finished executions (the
 * trigger on `executions` announces the deleted ones to the other processes; this one drops its
 * cache of them).
 */
import type { Tx } from '../db/knex';
import {
  deleteOrganizationRow,
  listMemberRoles,
  listOrganizationCachedKeys,
} from '../repositories/organizations.repository';
import type { Changed } from './changes';

export async function removeOrganization(tx: Tx, changed: Changed, id: string): Promise<void> {
  const members = await listMemberRoles(tx, id);
  const { flowIds, keyHashes } = await listOrganizationCachedKeys(tx, id);
  await deleteOrganizationRow(tx, id);
  for (const m of members) await changed('membership', m.account_id);
  for (const flowId of flowIds) await changed('flow', flowId);
  for (const hash of keyHashes) await changed('api_key', hash);
  await changed('secrets', id);
  await changed('execution', '*');
}
