import type { Knex } from 'knex';
import type { FlowAttribution, FlowRow, FlowVersionRow, FlowWithDefinition } from '../db/tables';

export async function insertFlow(
  db: Knex,
  row: Omit<FlowRow, 'created_at' | 'updated_at' | 'deleted_at' | 'live_version' | 'created_by' | 'updated_by'> &
    Partial<Pick<FlowRow, 'created_by' | 'updated_by'>>,
): Promise<FlowRow> {
  const [created] = await db<FlowRow>('flows').insert(row).returning('*');
  return created;
}

export async function insertFlowVersion(db: Knex, row: Omit<FlowVersionRow, 'created_at'>): Promise<FlowVersionRow> {
  const [created] = await db<FlowVersionRow>('flow_versions')
    .insert({ ...row, document: JSON.stringify(row.document) as never })
    .returning('*');
  return created;
}

function withCurrentVersion(db: Knex) {
  return db('flows as f')
    .join('flow_versions as v', function () {
      this.on('v.flow_id', '=', 'f.id').andOn('v.number', '=', 'f.current_version');
    })
    .whereNull('f.deleted_at');
}

/** The emails of who created and last changed the flow `f`, in the same statement. */
const FLOW_ATTRIBUTION = `(select a.email from accounts a where a.id = f.created_by) as created_by_email,
  (select a.email from accounts a where a.id = f.updated_by) as updated_by_email`;

/** The flow with its current version, and its live version's document when one is set. */
export async function findLiveFlow(db: Knex, id: string): Promise<FlowWithDefinition | undefined> {
  return withCurrentVersion(db)
    .leftJoin('flow_versions as lv', function () {
      this.on('lv.flow_id', '=', 'f.id').andOn('lv.number', '=', 'f.live_version');
    })
    .where('f.id', id)
    .first(
      'f.*',
      'v.definition',
      'v.version_label',
      'v.hash',
      'v.document',
      'lv.document as live_document',
      db.raw(FLOW_ATTRIBUTION),
    );
}

/** Locks the live flow row for an update in `tx`. */
export async function lockLiveFlow(tx: Knex.Transaction, id: string): Promise<FlowRow | undefined> {
  return tx<FlowRow>('flows').where({ id }).whereNull('deleted_at').forUpdate().first();
}

export async function updateFlowRow(
  db: Knex,
  id: string,
  patch: Partial<Pick<FlowRow, 'name' | 'description' | 'tags' | 'current_version' | 'live_version' | 'updated_by'>>,
): Promise<void> {
  await db('flows')
    .where({ id })
    .update({ ...patch, updated_at: db.fn.now() });
}

export async function softDeleteFlow(db: Knex, id: string): Promise<boolean> {
  return (await db('flows').where({ id }).whereNull('deleted_at').update({ deleted_at: db.fn.now() })) > 0;
}

export interface FlowListFilter {
  /** Flows of these organizations; all when undefined. */
  organizationIds?: readonly string[];
  tags: string[];
  /** The exact name. */
  name?: string;
  /** A substring of the name or the description, any case. */
  q?: string;
  limit: number;
  offset: number;
}

export async function listLiveFlows(
  db: Knex,
  filter: FlowListFilter,
): Promise<{ rows: (FlowRow & FlowAttribution & { version_label: string | null })[]; total: number }> {
  const base = withCurrentVersion(db).modify((q) => {
    if (filter.organizationIds) q.whereIn('f.organization_id', filter.organizationIds);
    if (filter.tags.length > 0) q.whereRaw('f.tags @> ?::text[]', [filter.tags]);
    if (filter.name !== undefined) q.where('f.name', filter.name);
    if (filter.q !== undefined) {
      // A literal substring: LIKE's own wildcards in the text are escaped.
      const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q.where((w) => {
        void w.whereILike('f.name', pattern).orWhereILike('f.description', pattern);
      });
    }
  });
  const [rows, [{ count }]] = await Promise.all([
    base
      .clone()
      .select('f.*', 'v.version_label', db.raw(FLOW_ATTRIBUTION))
      .orderBy([
        { column: 'f.created_at', order: 'desc' },
        { column: 'f.id', order: 'desc' },
      ])
      .limit(filter.limit)
      .offset(filter.offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

export async function listFlowVersionRows(
  db: Knex,
  flowId: string,
  limit: number,
  offset: number,
): Promise<{ rows: FlowVersionRow[]; total: number }> {
  const [rows, [{ count }]] = await Promise.all([
    db<FlowVersionRow>('flow_versions')
      .where({ flow_id: flowId })
      .select('flow_id', 'number', 'version_label', 'hash', 'created_by', 'created_at')
      .orderBy('number', 'desc')
      .limit(limit)
      .offset(offset),
    db('flow_versions').where({ flow_id: flowId }).count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows: rows as FlowVersionRow[], total: Number(count) };
}

export async function findFlowVersion(db: Knex, flowId: string, number: number): Promise<FlowVersionRow | undefined> {
  return db<FlowVersionRow>('flow_versions').where({ flow_id: flowId, number }).first();
}

/** A flow's name, deleted flows included (an execution outlives its flow). */
export async function findFlowName(db: Knex, id: string): Promise<string | undefined> {
  const row = await db<FlowRow>('flows').where({ id }).first('name');
  return row?.name;
}

/** The definition hash of each (flow, version) pair, in one query; keyed `flow_id@number`. */
export async function findDefinitionHashes(
  db: Knex,
  pairs: { flowId: string; number: number }[],
): Promise<Map<string, string>> {
  if (pairs.length === 0) return new Map();
  const found = await db<FlowVersionRow>('flow_versions')
    .whereIn(
      ['flow_id', 'number'],
      pairs.map((p) => [p.flowId, p.number]),
    )
    .select('flow_id', 'number', 'hash');
  return new Map(found.map((v) => [`${v.flow_id}@${v.number}`, v.hash]));
}
