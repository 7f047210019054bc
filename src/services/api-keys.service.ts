import crypto from 'node:crypto';
import type { InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { newId } from '../db/ids';
import type { ApiKeyRow, OrganizationRole } from '../db/tables';
import { deleteApiKeyRow, insertApiKey, listApiKeyRows } from '../repositories/api-keys.repository';
import type { Actor } from './actor';
import { API_KEY_PREFIX as KEY_PREFIX, hashApiKey } from './auth.service';
import { committing } from './changes';
import { existingOrganizationFor } from './organization-for';
import { canSeeOrganization, rank, roleIn } from './ownership';

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {}

  /**
   * Creates a key for the caller; the plain key exists only in this return value. With an
   * organization, the key acts there only, with `role` (by default the caller's own there), which
   * may not be higher than the caller's (403); a key cannot make another key more than it is.
   */
  async create(
    actor: Actor,
    name: string,
    expiresAt?: string,
    scope: { organization_id?: string; role?: OrganizationRole } = {},
  ): Promise<ApiKeyRow & { key: string }> {
    if (scope.role !== undefined && scope.organization_id === undefined)
      throw new ValidationError('A role is given to a key of one organization: name it in organization_id', {
        field: 'organization_id',
        reason: 'required with role',
      });
    let organizationRole: OrganizationRole | null = null;
    if (scope.organization_id !== undefined) {
      const own = roleIn(actor, scope.organization_id);
      if (own === undefined) throw new NotFoundError('Organization not found', { field: 'organization_id' });
      await existingOrganizationFor(this.db, actor, scope.organization_id, 'API keys', 'read');
      organizationRole = scope.role ?? own;
      if (rank(organizationRole) > rank(own))
        throw new ForbiddenError(`A key's role may not be higher than yours in its organization (${own})`, {
          field: 'role',
          role: own,
        });
    } else if (actor.keyOrganization !== undefined) {
      // A key of one organization makes keys of that organization only, never one of them all.
      throw new ForbiddenError('A key of one organization may only create keys of that organization', {
        field: 'organization_id',
      });
    }
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
      organization_id: scope.organization_id ?? null,
      organization_role: organizationRole,
    });
    return { ...row, key };
  }

  /** The caller's own keys; of one organization when `organization` names one (404 when the caller is no member). */
  async list(actor: Actor, organization?: string): Promise<ApiKeyRow[]> {
    if (organization !== undefined && !canSeeOrganization(actor, organization))
      throw new NotFoundError('Organization not found', { field: 'organization' });
    return listApiKeyRows(this.db, actor.accountId, organization);
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await committing(this.db, this.bus, async (tx, changed) => {
      const hash = await deleteApiKeyRow(tx, id, actor.accountId);
      if (hash === undefined) throw new NotFoundError('API key not found');
      await changed('api_key', hash);
    });
  }
}
