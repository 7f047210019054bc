import type { Knex } from 'knex';
import { runPrepared, type PreparedStatement } from '../db/prepared';
import type { ExecutionRow, ExecutionStatus } from '../db/tables';

export async function insertExecution(
  db: Knex,
  row: Pick<ExecutionRow, 'id' | 'account_id' | 'flow_id' | 'flow_version' | 'status' | 'client_id' | 'input'> &
    Partial<ExecutionRow>,
): Promise<ExecutionRow> {
  const [created] = await db<ExecutionRow>('executions')
    .insert({ ...row, input: JSON.stringify(row.input) as never })
    .returning('*');
  return created;
}

/**
 * What the reads that present executions add to the row: who started it (email) and its flow's
 * name, each a primary-key lookup inside the same statement, never a query per row.
 */
const ATTRIBUTION = `(select a.email from accounts a where a.id = executions.started_by) as started_by_email,
  (select f.name from flows f where f.id = executions.flow_id) as flow_name`;

const FIND_EXECUTION: PreparedStatement = {
  name: 'flowrunner_find_execution_v2',
  text: `select executions.*, ${ATTRIBUTION} from executions where id = $1::text`,
};

/** The read behind every GET of an execution (and each long poll's answer): a prepared statement. */
export async function findExecution(db: Knex, id: string): Promise<ExecutionRow | undefined> {
  if (db.isTransaction) return db<ExecutionRow>('executions').where({ id }).first('executions.*', db.raw(ATTRIBUTION));
  return (await runPrepared<ExecutionRow>(db, FIND_EXECUTION, [id])).rows[0];
}

/** The attribution (`started_by_email`, `flow_name`) of a row that was read or written without it. */
export async function findAttribution(
  db: Knex,
  startedBy: string | null,
  flowId: string,
): Promise<Pick<ExecutionRow, 'started_by_email' | 'flow_name'>> {
  const row = await db
    .select(
      db.raw('(select a.email from accounts a where a.id = ?) as started_by_email', [startedBy]),
      db.raw('(select f.name from flows f where f.id = ?) as flow_name', [flowId]),
    )
    .first();
  return { started_by_email: row?.started_by_email ?? null, flow_name: row?.flow_name ?? null };
}

export async function lockExecution(tx: Knex.Transaction, id: string): Promise<ExecutionRow | undefined> {
  return tx<ExecutionRow>('executions').where({ id }).forUpdate().first();
}

/** Applies a patch; jsonb columns are passed as JSON. */
export async function updateExecution(db: Knex, id: string, patch: Partial<ExecutionRow>): Promise<void> {
  const row: Record<string, unknown> = { ...patch };
  for (const k of ['result', 'node_outputs', 'state_values', 'waiting_for'] as const) {
    if (k in patch) row[k] = patch[k] === null || patch[k] === undefined ? null : JSON.stringify(patch[k]);
  }
  await db('executions').where({ id }).update(row);
}

export interface ExecutionListFilter {
  /** Executions of these organizations (all when undefined)… */
  organizationIds?: readonly string[];
  /** …and those shared with this account. */
  sharedWith?: string;
  flowId?: string;
  status?: ExecutionStatus;
  clientId?: string;
  triggerType?: 'schedule' | 'webhook';
  triggerId?: string;
  stage?: 'draft' | 'live';
  /** The run's exact name. */
  name?: string;
  /** Created at or after this instant. */
  createdAfter?: Date;
  /** Created strictly before this instant. */
  createdBefore?: Date;
  /** Only the reruns of this execution. */
  rerunOf?: string;
  /** Rows after this id (newest first); offset is ignored then. */
  beforeId?: string;
  limit: number;
  offset: number;
}

/** Newest first by id (prefixed ULIDs sort by creation time), so cursors stay stable under inserts. */
export async function listExecutionRows(
  db: Knex,
  f: ExecutionListFilter,
): Promise<{ rows: ExecutionRow[]; total: number }> {
  const base = db<ExecutionRow>('executions').modify((q) => {
    if (f.organizationIds) {
      const organizationIds = f.organizationIds;
      const accountId = f.sharedWith;
      // Block bodies: Knex builders are thenables, and a callback here must not return one.
      q.where((w) => {
        void w.whereIn('organization_id', organizationIds);
        if (accountId === undefined) return;
        void w.orWhereExists((e) => {
          void e
            .select(db.raw('1'))
            .from('execution_shares as s')
            .whereRaw('s.execution_id = executions.id')
            .andWhere('s.account_id', accountId);
        });
      });
    }
    if (f.flowId) q.where('flow_id', f.flowId);
    if (f.status) q.where('status', f.status);
    if (f.clientId) q.where('client_id', f.clientId);
    if (f.stage) q.where('stage', f.stage);
    if (f.name !== undefined) q.where('name', f.name);
    if (f.triggerId) q.whereRaw("trigger->>'id' = ?", [f.triggerId]);
    if (f.triggerType) q.whereRaw("trigger->>'type' = ?", [f.triggerType]);
    if (f.createdAfter) q.where('created_at', '>=', f.createdAfter);
    if (f.createdBefore) q.where('created_at', '<', f.createdBefore);
    if (f.rerunOf) q.where('rerun_of', f.rerunOf);
  });
  const page = base.clone().select('executions.*', db.raw(ATTRIBUTION)).orderBy('id', 'desc').limit(f.limit);
  if (f.beforeId) page.where('id', '<', f.beforeId);
  else page.offset(f.offset);
  const [rows, [{ count }]] = await Promise.all([page, base.clone().count<{ count: number }[]>({ count: '*' })]);
  return { rows, total: Number(count) };
}

/** Workers running a step of a cancelled execution abort it when this channel names the execution. */
export const CANCEL_CHANNEL = 'flowrunner_cancel';

/** Tells every worker, once `tx` commits, that the execution was cancelled. */
export async function notifyCancelled(tx: Knex.Transaction, executionId: string): Promise<void> {
  await tx.raw('select pg_notify(?, ?)', [CANCEL_CHANNEL, executionId]);
}

/** Locks the children of an execution that have not finished yet. */
export async function lockUnfinishedChildren(tx: Knex.Transaction, parentId: string): Promise<ExecutionRow[]> {
  return tx<ExecutionRow>('executions')
    .where({ parent_execution_id: parentId })
    .whereNotIn('status', ['completed', 'failed', 'cancelled'])
    .forUpdate();
}

/**
 * Removes an execution and what hangs on it: its steps, events (and their deliveries), tasks,
 * shares and listeners go by their foreign keys; idempotency keys name it without one.
 */
export async function deleteExecutionRow(tx: Knex.Transaction, id: string): Promise<void> {
  await tx('idempotency_keys').where({ execution_id: id }).delete();
  await tx('executions').where({ id }).delete();
}

/** The executions of these organizations (every one's when undefined) that wait in an `event` node for this name and correlation. */
export async function findEventWaiters(
  db: Knex,
  filter: { organizationIds?: readonly string[] },
  name: string,
  correlation: string,
): Promise<string[]> {
  if (filter.organizationIds?.length === 0) return [];
  const rows = await db('executions')
    .where({ status: 'waiting' })
    .modify((q) => {
      if (filter.organizationIds) q.whereIn('organization_id', filter.organizationIds);
    })
    .whereRaw("waiting_for->>'kind' = 'event'")
    .whereRaw("waiting_for->'event'->>'name' = ?", [name])
    .whereRaw("waiting_for->'event'->>'correlation' = ?", [correlation])
    .orderBy('id')
    .select('id');
  return rows.map((r: { id: string }) => r.id);
}

/** The execution whose callback node waits for the token with this hash, locked. */
export async function lockCallbackWaiter(tx: Knex.Transaction, tokenHash: string): Promise<ExecutionRow | undefined> {
  return tx<ExecutionRow>('executions')
    .whereRaw("waiting_for->>'callback_hash' = ?", [tokenHash])
    .where({ status: 'waiting' })
    .forUpdate()
    .first();
}

/** Remembers a used callback token; false when it was used before. */
export async function markCallbackUsed(tx: Knex.Transaction, tokenHash: string, executionId: string): Promise<boolean> {
  const rows = await tx('used_callbacks')
    .insert({ token_hash: tokenHash, execution_id: executionId })
    .onConflict('token_hash')
    .ignore()
    .returning('token_hash');
  return rows.length > 0;
}

export async function isCallbackUsed(db: Knex, tokenHash: string): Promise<boolean> {
  return (await db('used_callbacks').where({ token_hash: tokenHash }).first()) !== undefined;
}
