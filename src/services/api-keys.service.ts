import crypto from 'node:crypto';
import type { InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import { NotFoundError, ValidationError } from '../errors';
import { newId } from '../db/ids';
import type { ApiKeyRow } from '../db/tables';
import { deleteApiKeyRow, insertApiKey, listApiKeyRows } from '../repositories/api-keys.repository';
import type { Actor } from './actor';
import { API_KEY_PREFIX as KEY_PREFIX, hashApiKey } from './auth.service';
import { committing } from './changes';

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {}

  /** Creates a key for the caller; the plain key exists only in this return value. */
  async create(actor: Actor, name: string, expiresAt?: string): Promise<ApiKeyRow & { key: string }> {
    const expires = expiresAt === undefined ? null : new Date(expiresAt);
    if (expires && expires.getTime() <= Date.now()) {
      throw new ValidationError('expires_at must be in the future', {
        field: 'expires_at',
        reason: 'must be in the future',
      });
    }
    const key = KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
    const row = await insertApiKey(this.db, {
      id: newId('key'),
      account_id: actor.accountId,
      name,
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      key_hash: hashApiKey(key),
      expires_at: expires,
    });
    return { ...row, key };
  }

  async list(actor: Actor): Promise<ApiKeyRow[]> {
    return listApiKeyRows(this.db, actor.accountId);
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await committing(this.db, this.bus, async (tx, changed) => {
      const hash = await deleteApiKeyRow(tx, id, actor.accountId);
      if (hash === undefined) throw new NotFoundError('API key not found');
      await changed('api_key', hash);
    });
  }
}
