import type { Db } from '../db/knex';
import type { SecretRow } from '../db/tables';
import type { RunSecrets, RunSecretsSource } from '../engine/ports';
import { findAccountById } from '../repositories/accounts.repository';
import { deleteSecretRow, listSecretRows, upsertSecret } from '../repositories/secrets.repository';
import { NotFoundError } from '../errors';
import type { Actor } from './actor';
import { Masker } from '../security/masking';
import { canSee } from './ownership';
import type { SecretBox } from '../security/secret-box';

export class SecretsService implements RunSecretsSource {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

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
    return upsertSecret(this.db, accountId, key, this.box.seal(value, context(accountId, key)));
  }

  async delete(actor: Actor, accountId: string, key: string): Promise<void> {
    await this.assertAccount(actor, accountId);
    if (!(await deleteSecretRow(this.db, accountId, key))) throw new NotFoundError('Secret not found');
  }

  /** Decrypts an account's secrets for a run and registers their values for masking. */
  async resolveForRun(accountId: string): Promise<RunSecrets> {
    const rows = await listSecretRows(this.db, accountId);
    const values = Object.fromEntries(rows.map((r) => [r.key, this.box.open(r.ciphertext, context(accountId, r.key))]));
    return { values, masker: new Masker(Object.values(values)) };
  }

  private async assertAccount(actor: Actor, accountId: string): Promise<void> {
    if (!canSee(actor, accountId) || !(await findAccountById(this.db, accountId)))
      throw new NotFoundError('Account not found');
  }
}

function context(accountId: string, key: string): string {
  return `secret:${accountId}:${key}`;
}
