/**
 * Secrets, sealed at rest. The decrypted secrets (and their masker, which also hides the secret
 * parts of the account's connections) of the accounts in use are
 * cached: the engine reads them for every step and every read of an execution masks with them.
 * A change drops the account's entry in this process before the request returns, in the others
 * when the notification arrives.
 */
import { InvalidatedCache, type InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import type { SecretRow } from '../db/tables';
import type { RunSecrets, RunSecretsSource } from '../engine/ports';
import { findAccountById } from '../repositories/accounts.repository';
import { deleteSecretRow, listSecretRows, upsertSecret } from '../repositories/secrets.repository';
import { listAccountConnectionSecrets } from '../repositories/connections.repository';
import type { ConnectionsService } from './connections.service';
import { NotFoundError } from '../errors';
import type { Actor } from './actor';
import { committing } from './changes';
import { Masker } from '../security/masking';
import { canSee } from './ownership';
import type { SecretBox } from '../security/secret-box';

const MAX_CACHED_ACCOUNTS = 1000;

export class SecretsService implements RunSecretsSource {
  private readonly forRun: InvalidatedCache<RunSecrets>;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly bus: InvalidationBus,
    /** Their secret parts are masked like secrets. */
    private readonly connections: ConnectionsService,
  ) {
    this.forRun = new InvalidatedCache(bus, MAX_CACHED_ACCOUNTS);
    bus.on('secrets', (accountId) => this.forRun.delete(accountId));
    bus.on('account', (accountId) => this.forRun.delete(accountId));
  }

  async list(actor: Actor, accountId: string): Promise<SecretRow[]> {
    await this.assertAccount(actor, accountId);
    return listSecretRows(this.db, accountId);
  }

  async put(
    actor: Actor,
    accountId: string,
    key: string,
    value: string,
  ): Promise<{ row: SecretRow; created: boolean }> {
    await this.assertAccount(actor, accountId);
    return committing(this.db, this.bus, async (tx, changed) => {
      const result = await upsertSecret(tx, accountId, key, this.box.seal(value, context(accountId, key)));
      await changed('secrets', accountId);
      return result;
    });
  }

  async delete(actor: Actor, accountId: string, key: string): Promise<void> {
    await this.assertAccount(actor, accountId);
    await committing(this.db, this.bus, async (tx, changed) => {
      if (!(await deleteSecretRow(tx, accountId, key))) throw new NotFoundError('Secret not found');
      await changed('secrets', accountId);
    });
  }

  /** An account's secrets decrypted, and a masker that hides their values; shared, so frozen. */
  async resolveForRun(accountId: string): Promise<RunSecrets> {
    return (await this.forRun.get(accountId, async () => {
      const [rows, connections] = await Promise.all([
        listSecretRows(this.db, accountId),
        listAccountConnectionSecrets(this.db, accountId),
      ]);
      const values = Object.fromEntries(
        rows.map((r) => [r.key, this.box.open(r.ciphertext, context(accountId, r.key))]),
      );
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

function context(accountId: string, key: string): string {
  return `secret:${accountId}:${key}`;
}
