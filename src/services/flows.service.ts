/**
 * Flows and their immutable versions. A definition is validated on every save; a changed one
 * becomes a new version. Deleting hides a flow but keeps its versions for executions that used them.
 *
 * `get` (what a start and the listeners use) serves live flows with their current version from a
 * cache that every update, new version and delete invalidates; `read` and every change read the
 * database, so what a client is shown and what a change builds on are never stale.
 */
import { InvalidatedCache, type InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { FlowVersionRow, FlowWithDefinition } from '../db/tables';
import { definitionHash, definitionText, parseDefinition, type FlowDocument } from '../engine/definition';
import { NODE_TYPES, nodeType, type NodeTypeModule } from '../engine/nodes';
import { ConflictError, InvalidRequestError, NotFoundError, ValidationError } from '../errors';
import {
  findFlowVersion,
  findLiveFlow,
  insertFlow,
  insertFlowVersion,
  listFlowVersionRows,
  listLiveFlows,
  lockLiveFlow,
  softDeleteFlow,
  updateFlowRow,
} from '../repositories/flows.repository';
import type { Actor } from './actor';
import { committing } from './changes';
import { existingOrganizationFor } from './organization-for';
import { ownerFilter, permittedOrForbidden, visibleOrNotFound, type OrganizationAction } from './ownership';
import { inTransaction } from '../db/transaction';

const UNIQUE_VIOLATION = '23505';
const MAX_CACHED_FLOWS = 2000;

export interface FlowInput {
  name: string;
  description?: string;
  /** YAML text, or the document as an object (kept as its YAML text). */
  definition: string | Record<string, unknown>;
  tags?: string[];
  /** The organization it goes into (default: the caller's personal one). */
  organization_id?: string;
}

export type FlowChanges = Partial<Omit<FlowInput, 'organization_id'>>;

/** Parses a definition or throws 422 with every problem. */
export function validDefinition(text: string): { document: FlowDocument; hash: string } {
  const parsed = parseDefinition(text);
  if (!parsed.ok) {
    const first = parsed.problems[0];
    throw new ValidationError(
      `The flow definition is invalid: ${first.path ? first.path + ': ' : ''}${first.message}${parsed.problems.length > 1 ? ` (and ${parsed.problems.length - 1} more)` : ''}`,
      {
        field: 'definition',
        reason: first.message,
        errors: parsed.problems,
      },
    );
  }
  // The resolved entry is kept with the document, so a start needs no parsing.
  return { document: { ...parsed.document, entry: parsed.entry }, hash: parsed.hash };
}

function versionLabel(document: FlowDocument): string | null {
  const v = document.metadata?.version;
  return v === undefined || v === null ? null : String(v);
}

function uniqueTags(tags: string[] | undefined): string[] {
  return [...new Set(tags ?? [])];
}

async function nameConflict<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      throw new ConflictError('A flow with this name already exists', {
        field: 'name',
        reason: 'flow names are unique per organization',
      });
    }
    throw err;
  }
}

export class FlowsService {
  private readonly live: InvalidatedCache<FlowWithDefinition>;

  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
  ) {
    this.live = new InvalidatedCache(bus, MAX_CACHED_FLOWS);
    bus.on('flow', (id) => this.live.delete(id));
    bus.on('account', (id) => this.live.deleteWhere((f) => f.account_id === id));
  }

  async create(actor: Actor, input: FlowInput): Promise<FlowWithDefinition> {
    const text = definitionText(input.definition);
    const { document, hash } = validDefinition(text);
    const id = newId('flow');
    const organizationId = await existingOrganizationFor(this.db, actor, input.organization_id, 'flows');
    await nameConflict(
      inTransaction(this.db, async (tx) => {
        await insertFlow(tx, {
          id,
          account_id: actor.accountId,
          organization_id: organizationId,
          name: input.name,
          description: input.description ?? document.metadata?.description ?? '',
          tags: uniqueTags(input.tags),
          current_version: 1,
          created_by: actor.accountId,
          updated_by: actor.accountId,
        });
        await insertFlowVersion(tx, {
          flow_id: id,
          number: 1,
          version_label: versionLabel(document),
          hash,
          definition: text,
          document,
          created_by: actor.accountId,
        });
      }),
    );
    return (await findLiveFlow(this.db, id))!;
  }

  /** The live flow and its current version, usually from memory: shared, so not to be changed. */
  async get(actor: Actor, id: string): Promise<FlowWithDefinition> {
    return visibleOrNotFound(actor, await this.live.get(id, () => findLiveFlow(this.db, id)), 'Flow');
  }

  /** A flow the actor may `action` (404 when they may not see it, 403 when their role may not), from the cache. */
  async permitted(actor: Actor, id: string, action: OrganizationAction): Promise<FlowWithDefinition> {
    return permittedOrForbidden(actor, await this.live.get(id, () => findLiveFlow(this.db, id)), action, 'Flow');
  }

  /** The same, from the database. */
  async read(actor: Actor, id: string): Promise<FlowWithDefinition> {
    return visibleOrNotFound(actor, await findLiveFlow(this.db, id), 'Flow');
  }

  async update(actor: Actor, id: string, changes: FlowChanges): Promise<FlowWithDefinition> {
    // Not the cache: the hash decides whether a new version is made.
    const current = permittedOrForbidden(actor, await findLiveFlow(this.db, id), 'edit', 'Flow');
    const text = changes.definition === undefined ? undefined : definitionText(changes.definition);
    const parsed = text !== undefined && definitionHash(text) !== current.hash ? validDefinition(text) : undefined;
    await nameConflict(
      committing(this.db, this.bus, async (tx, changed) => {
        const locked = await lockLiveFlow(tx, id);
        if (!locked) throw new NotFoundError('Flow not found');
        let currentVersion = locked.current_version;
        if (parsed) {
          currentVersion += 1;
          await insertFlowVersion(tx, {
            flow_id: id,
            number: currentVersion,
            version_label: versionLabel(parsed.document),
            hash: parsed.hash,
            definition: text!,
            document: parsed.document,
            created_by: actor.accountId,
          });
        }
        await updateFlowRow(tx, id, {
          name: changes.name,
          description: changes.description,
          tags: changes.tags === undefined ? undefined : uniqueTags(changes.tags),
          current_version: currentVersion,
          updated_by: actor.accountId,
        });
        await changed('flow', id);
      }),
    );
    return (await findLiveFlow(this.db, id))!;
  }

  /** Promotes one of the flow's versions to the live stage (issue 15); 422 when it has no such version. */
  async setLive(actor: Actor, id: string, version: number): Promise<FlowWithDefinition> {
    permittedOrForbidden(actor, await findLiveFlow(this.db, id), 'edit', 'Flow');
    await committing(this.db, this.bus, async (tx, changed) => {
      const locked = await lockLiveFlow(tx, id);
      if (!locked) throw new NotFoundError('Flow not found');
      if (!(await findFlowVersion(tx, id, version)))
        throw new ValidationError(`The flow has no version ${version}`, {
          field: 'version',
          reason: `the flow's versions are 1 to ${locked.current_version}`,
        });
      await updateFlowRow(tx, id, { live_version: version, updated_by: actor.accountId });
      await changed('flow', id);
    });
    return (await findLiveFlow(this.db, id))!;
  }

  async delete(actor: Actor, id: string): Promise<void> {
    permittedOrForbidden(actor, await findLiveFlow(this.db, id), 'edit', 'Flow');
    await committing(this.db, this.bus, async (tx, changed) => {
      if (!(await softDeleteFlow(tx, id))) throw new NotFoundError('Flow not found');
      await changed('flow', id);
    });
  }

  async list(
    actor: Actor,
    filter: { tags: string[]; name?: string; q?: string; organization?: string; limit: number; offset: number },
  ) {
    const { organization, ...rest } = filter;
    return listLiveFlows(this.db, { ...rest, ...ownerFilter(actor, organization) });
  }

  async versions(actor: Actor, id: string, limit: number, offset: number) {
    await this.read(actor, id);
    return listFlowVersionRows(this.db, id, limit, offset);
  }

  /**
   * The node-type catalog (the same for every caller), in its fixed order, a page at a time: from
   * `offset`, or after the type a `cursor` names (the cursor wins when both are given).
   */
  nodeTypes(filter: { category?: string; limit?: number; offset?: number; cursor?: string } = {}): {
    rows: readonly NodeTypeModule[];
    total: number;
    nextCursor: string | null;
  } {
    const matching = NODE_TYPES.filter((t) => filter.category === undefined || t.category === filter.category);
    let offset = filter.offset ?? 0;
    if (filter.cursor !== undefined) {
      const after = decodeNodeTypeCursor(filter.cursor);
      const at = matching.findIndex((t) => t.type === after);
      if (at < 0)
        throw new InvalidRequestError('The cursor is not one this API returned for this category', {
          field: 'cursor',
          reason: 'pass next_cursor from a previous page with the same filters',
        });
      offset = at + 1;
    }
    const end = offset + (filter.limit ?? matching.length);
    const rows = matching.slice(offset, end);
    const nextCursor =
      end < matching.length && rows.length > 0 ? encodeNodeTypeCursor(rows[rows.length - 1].type) : null;
    return { rows, total: matching.length, nextCursor };
  }

  nodeType(type: string): NodeTypeModule {
    const t = nodeType(type);
    if (!t) throw new NotFoundError(`Node type "${type}" not found`);
    return t;
  }

  async version(actor: Actor, id: string, number: number): Promise<FlowVersionRow> {
    await this.read(actor, id);
    const row = await findFlowVersion(this.db, id, number);
    if (!row) throw new NotFoundError(`Version ${number} of this flow not found`);
    return row;
  }
}

function encodeNodeTypeCursor(type: string): string {
  return Buffer.from(JSON.stringify({ type })).toString('base64url');
}

function decodeNodeTypeCursor(cursor: string): string | undefined {
  try {
    const { type } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof type === 'string') return type;
  } catch {
    // the caller says what is wrong
  }
  return undefined;
}
