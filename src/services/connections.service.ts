/**
 * Connections (001's integrations with their `auth_type`): named credentials that `http.request`
 * uses by name. A connection belongs to an organization like every other object (ownership.ts):
 * its members see it (`read`, secrets masked), editors create, change and delete it (`edit`). The
 * engine finds it by name among the connections of its execution's organization
 * (`findConnectionByName(organization_id, name)`, like secrets), so a name is unique per
 * organization and a run uses its organization's connections, whoever started it. What may be
 * shown (a header name, a username, a token URL) is kept as JSON; the secret parts are sealed like
 * secrets, with the connection's id as context. A change notifies `secrets` for the organization,
 * so every process's masker learns the new values at once.
 */
import { decodeIdCursor, encodeIdCursor } from './cursors';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { InvalidationBus } from '../db/invalidation';
import type { ConnectionRow, ConnectionType } from '../db/tables';
import type { RunConnection, RunConnectionsSource } from '../engine/ports';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import {
  deleteConnectionRow,
  findConnection,
  findConnectionByName,
  insertConnection,
  listConnectionRows,
  updateConnectionRow,
} from '../repositories/connections.repository';
import type { SecretBox } from '../security/secret-box';
import type { Actor } from './actor';
import { committing } from './changes';
import { existingOrganizationFor } from './organization-for';
import { ownerFilter, permittedOrForbidden, visibleOrNotFound } from './ownership';

const UNIQUE_VIOLATION = '23505';

/** Which fields of each type's settings are secret (sealed, shown as `***`). */
const SECRET_FIELDS: Record<ConnectionType, string[]> = {
  api_key: ['value'],
  basic: ['password'],
  bearer: ['token'],
  oauth2_client_credentials: ['client_secret'],
};
const REQUIRED_FIELDS: Record<ConnectionType, string[]> = {
  api_key: ['location', 'name', 'value'],
  basic: ['username', 'password'],
  bearer: ['token'],
  oauth2_client_credentials: ['token_url', 'client_id', 'client_secret'],
};
export const CONNECTION_TYPES = Object.keys(SECRET_FIELDS) as ConnectionType[];

type Settings = Record<string, unknown>;

export interface ConnectionCreate {
  /** The organization it goes into (the caller must be an editor there); by default the caller's personal one. */
  organization_id?: string;
  name: string;
  type: ConnectionType;
  description?: string;
  api_key?: Settings;
  basic?: Settings;
  bearer?: Settings;
  oauth2_client_credentials?: Settings;
}

export interface ConnectionUpdate {
  name?: string;
  description?: string | null;
  api_key?: Settings;
  basic?: Settings;
  bearer?: Settings;
  oauth2_client_credentials?: Settings;
}

export function connectionSecretContext(id: string): string {
  return `connection:${id}`;
}

/** The settings object of a body must be the one its type names, and no other. */
function settingsOf(body: ConnectionCreate | ConnectionUpdate, type: ConnectionType): Settings | undefined {
  for (const other of CONNECTION_TYPES)
    if (other !== type && body[other] !== undefined)
      throw new ValidationError(`A connection of type ${type} takes \`${type}\` settings, not \`${other}\``, {
        field: other,
        reason: `not allowed for type ${type}`,
      });
  return body[type];
}

function split(type: ConnectionType, settings: Settings): { shown: Settings; secret: Record<string, string> } {
  const shown: Settings = {};
  const secret: Record<string, string> = {};
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined) continue;
    if (SECRET_FIELDS[type].includes(k)) secret[k] = String(v);
    else shown[k] = v;
  }
  return { shown, secret };
}

export class ConnectionsService implements RunConnectionsSource {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly bus: InvalidationBus,
  ) {}

  async create(actor: Actor, body: ConnectionCreate): Promise<ConnectionRow> {
    const settings = settingsOf(body, body.type);
    if (!settings)
      throw new ValidationError(`A connection of type ${body.type} needs its \`${body.type}\` settings`, {
        field: body.type,
        reason: 'required for this type',
      });
    const { shown, secret } = split(body.type, settings);
    const organizationId = await existingOrganizationFor(this.db, actor, body.organization_id, 'connections');
    const id = newId('conn');
    return this.write(body.name, () =>
      committing(this.db, this.bus, async (tx, changed) => {
        const row = await insertConnection(tx, {
          id,
          account_id: actor.accountId,
          organization_id: organizationId,
          name: body.name,
          type: body.type,
          description: body.description ?? null,
          settings: shown,
          ciphertext: this.box.seal(JSON.stringify(secret), connectionSecretContext(id)),
        });
        await changed('secrets', organizationId);
        return row;
      }),
    );
  }

  async get(actor: Actor, id: string): Promise<ConnectionRow> {
    return visibleOrNotFound(actor, await findConnection(this.db, id), 'Connection');
  }

  async list(
    actor: Actor,
    page: { limit: number; cursor?: string; organization?: string },
  ): Promise<{ rows: ConnectionRow[]; nextCursor: string | null }> {
    const filter = ownerFilter(actor, page.organization);
    const beforeId = page.cursor !== undefined ? decodeIdCursor(page.cursor, 'conn-') : undefined;
    const rows = await listConnectionRows(this.db, { ...filter, beforeId, limit: page.limit });
    const nextCursor = rows.length === page.limit ? encodeIdCursor(rows[rows.length - 1].id) : null;
    return { rows, nextCursor };
  }

  async update(actor: Actor, id: string, body: ConnectionUpdate): Promise<ConnectionRow> {
    const row = permittedOrForbidden(actor, await findConnection(this.db, id), 'edit', 'Connection');
    const given = settingsOf(body, row.type);
    let settings: Settings | undefined;
    let ciphertext: Buffer | undefined;
    if (given) {
      const before = { ...row.settings, ...this.openSecrets(row) };
      const merged = Object.fromEntries(
        Object.entries({ ...before, ...given }).filter(([, v]) => v !== null && v !== undefined),
      );
      const missing = REQUIRED_FIELDS[row.type].filter((f) => merged[f] === undefined);
      if (missing.length > 0)
        throw new ValidationError(`\`${row.type}.${missing[0]}\` is required`, { field: `${row.type}.${missing[0]}` });
      const { shown, secret } = split(row.type, merged);
      settings = shown;
      ciphertext = this.box.seal(JSON.stringify(secret), connectionSecretContext(id));
    }
    return this.write(body.name ?? row.name, () =>
      committing(this.db, this.bus, async (tx, changed) => {
        const updated = await updateConnectionRow(tx, id, {
          name: body.name,
          description: body.description,
          settings,
          ciphertext,
        });
        if (!updated) throw new NotFoundError('Connection not found');
        await changed('secrets', row.organization_id);
        return updated;
      }),
    );
  }

  async delete(actor: Actor, id: string): Promise<void> {
    const row = permittedOrForbidden(actor, await findConnection(this.db, id), 'edit', 'Connection');
    await committing(this.db, this.bus, async (tx, changed) => {
      if (!(await deleteConnectionRow(tx, id))) throw new NotFoundError('Connection not found');
      await changed('secrets', row.organization_id);
    });
  }

  async resolveConnection(organizationId: string, name: string): Promise<RunConnection | undefined> {
    const row = await findConnectionByName(this.db, organizationId, name);
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      type: row.type,
      settings: row.settings,
      secrets: this.openSecrets(row),
      version: row.updated_at.toISOString(),
    };
  }

  /** The secret parts of a connection, opened. */
  openSecrets(row: Pick<ConnectionRow, 'id' | 'ciphertext'>): Record<string, string> {
    return JSON.parse(this.box.open(row.ciphertext, connectionSecretContext(row.id))) as Record<string, string>;
  }

  /** A name the organization already uses is a conflict (409). */
  private async write<T>(name: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION)
        throw new ConflictError(`The organization already has a connection named "${name}"`, { field: 'name' });
      throw err;
    }
  }
}
