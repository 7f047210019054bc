import crypto from 'node:crypto';
import type { Db } from '../db/knex';
import { NotFoundError, ValidationError } from '../errors';
import { newId } from '../db/ids';
import type { ApiKeyRow } from '../db/tables';
import { deleteApiKeyRow, insertApiKey, listApiKeyRows } from '../repositories/api-keys.repository';
import type { Actor } from './actor';
import { hashApiKey } from './auth.service';

const KEY_PREFIX = 'frk_';

export class ApiKeysService {
  constructor(private readonly db: Db) {}

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
    if (!(await deleteApiKeyRow(this.db, id, actor.accountId))) throw new NotFoundError('API key not found');
  }
}
