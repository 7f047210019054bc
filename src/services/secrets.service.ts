/**
 * Secrets, sealed at rest. A secret belongs to an organization like every other object
 * (ownership.ts): its members see its keys (`read`; a value is never returned), editors create,
 * replace and delete it (`edit`), and the executions of the organization read it as
 * `secrets.<KEY>`, whoever started them. A key is unique in its organization. `account_id` is who
 * created it; its ciphertext is sealed with its organization, creator and key as context (see
 * `context`), so it opens in no other row, and a replacement by another editor keeps it.
 *
 * The decrypted secrets (and their masker, which also hides the secret parts of the
 * organization's connections) of the organizations in use are cached: the engine reads them for
 * every step and every read of an execution masks with them. A change drops the organization's
 * entry in this process before the request returns, in the others when the notification arrives.
 */
import { InvalidatedCache, type InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import type { SecretRow } from '../db/tables';
import type { RunSecrets, RunSecretsSource } from '../engine/ports';
import { findAccountById } from '../repositories/accounts.repository';
import {
  deleteSecretRow,
  insertSecret,
  listOrganizationsSecretRows,
  listSecretRows,
  lockSecret,
  replaceSecretValue,
} from '../repositories/secrets.repository';
import { listOrganizationConnectionSecrets } from '../repositories/connections.repository';
import type { ConnectionsService } from './connections.service';
import { NotFoundError } from '../errors';
import type { Actor } from './actor';
import { committing } from './changes';
import { existingOrganizationFor } from './organization-for';
import { Masker } from '../security/masking';
import { canSee, organizationFor, ownerFilter, personalOrganizationId } from './ownership';
import type { SecretBox } from '../security/secret-box';

const MAX_CACHED_ORGANIZATIONS = 1000;

export class SecretsService implements RunSecretsSource {
  // An organization's secrets change only by the operations here and by its deletion (an account's
  // personal one goes with it, a team's stay with the team): each says so under 'secrets'.
  private readonly forRun: InvalidatedCache<RunSecrets>;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly bus: InvalidationBus,
    /** Their secret parts are masked like secrets. */
    private readonly connections: ConnectionsService,
  ) {
    this.forRun = new InvalidatedCache(bus, MAX_CACHED_ORGANIZATIONS);
    bus.on('secrets', (organizationId) => this.forRun.delete(organizationId));
  }

  /** An account's secrets: its personal organization's. */
  async listOfAccount(actor: Actor, accountId: string): Promise<SecretRow[]> {
    await this.assertAccount(actor, accountId);
    return listSecretRows(this.db, personalOrganizationId(accountId));
  }

  /** The secrets of the caller's organizations, or of `organization` (404 when the caller is no member). */
  async list(actor: Actor, organization?: string): Promise<SecretRow[]> {
    return listOrganizationsSecretRows(this.db, ownerFilter(actor, organization));
  }

  async putOfAccount(
    actor: Actor,
    accountId: string,
    key: string,
    value: string,
  ): Promise<{ row: SecretRow; created: boolean }> {
    await this.assertAccount(actor, accountId);
    return this.put(actor, personalOrganizationId(accountId), key, value);
  }

  /** Creates or replaces `key` in the organization (an editor's there; by default the caller's personal one). */
  async put(
    actor: Actor,
    organization: string | undefined,
    key: string,
    value: string,
  ): Promise<{ row: SecretRow; created: boolean }> {
    const organizationId = await existingOrganizationFor(this.db, actor, organization, 'secrets');
    return committing(this.db, this.bus, async (tx, changed) => {
      await changed('secrets', organizationId);
      // Another round only when another request inserted the key between the lock finding none
      // and this insert: the next lock finds it.
      for (;;) {
        const existing = await lockSecret(tx, organizationId, key);
        if (existing) {
          const ciphertext = this.box.seal(value, context(existing));
          return { row: (await replaceSecretValue(tx, organizationId, key, ciphertext))!, created: false };
        }
        const created = { organization_id: organizationId, account_id: actor.accountId, key };
        const row = await insertSecret(tx, { ...created, ciphertext: this.box.seal(value, context(created)) });
        if (row) return { row, created: true };
      }
    });
  }

  async deleteOfAccount(actor: Actor, accountId: string, key: string): Promise<void> {
    await this.assertAccount(actor, accountId);
    await this.delete(actor, personalOrganizationId(accountId), key);
  }

  /** Deletes `key` of the organization (an editor's there; by default the caller's personal one). */
  async delete(actor: Actor, organization: string | undefined, key: string): Promise<void> {
    const organizationId = organizationFor(actor, organization, 'secrets');
    await committing(this.db, this.bus, async (tx, changed) => {
      if (!(await deleteSecretRow(tx, organizationId, key))) throw new NotFoundError('Secret not found');
      await changed('secrets', organizationId);
    });
  }

  /** An organization's secrets decrypted, and a masker that hides their values; shared, so frozen. */
  async resolveForRun(organizationId: string): Promise<RunSecrets> {
    return (await this.forRun.get(organizationId, async () => {
      const [rows, connections] = await Promise.all([
        listSecretRows(this.db, organizationId),
        listOrganizationConnectionSecrets(this.db, organizationId),
      ]);
      const values = Object.fromEntries(rows.map((r) => [r.key, this.box.open(r.ciphertext, context(r))]));
      const credentials = connections.flatMap((c) => Object.values(this.connections.openSecrets(c)));
      return Object.freeze({
        values: Object.freeze(values),
        masker: new Masker([...Object.values(values), ...credentials]),
      });
    }))!;
  }

  private async assertAccount(actor: Actor, accountId: string): Promise<void> {
    if (!canSee(actor, { account_id: accountId }) || !(await findAccountById(this.db, accountId)))
      throw new NotFoundError('Account not found');
  }
}

/**
 * What a secret's ciphertext is bound to. In its creator's personal organization, creator and key
 * (what every secret was bound to when secrets were per account); in a team organization, that
 * organization and key — not its creator, since a team's secret stays the team's (handed to another
 * owner) when its creator's account is deleted.
 */
function context(row: Pick<SecretRow, 'organization_id' | 'account_id' | 'key'>): string {
  return row.organization_id === personalOrganizationId(row.account_id)
    ? `secret:${row.account_id}:${row.key}`
    : `secret:${row.organization_id}:${row.key}`;
}
