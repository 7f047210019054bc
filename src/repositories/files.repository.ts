/** Files' metadata and which executions use them: one function per query. */
import type { Knex } from 'knex';
import { FINAL_STATUSES, type ExecutionFileRow, type FileRow } from '../db/tables';

export async function insertFileRow(db: Knex, row: Omit<FileRow, 'created_at'>): Promise<void> {
  await db<FileRow>('files').insert(row);
}

/** Writes the size and digest once the bytes are stored; the row as it now stands. */
export async function completeFileRow(db: Knex, id: string, size: number, sha256: string): Promise<FileRow> {
  const [row] = await db<FileRow>('files').where({ id }).update({ size, sha256 }).returning('*');
  return row;
}

export async function findFile(db: Knex, id: string): Promise<FileRow | undefined> {
  return db<FileRow>('files').where({ id }).first();
}

/**
 * The files of `ids` that exist, locked against deletion until `tx` ends (a start that takes them
 * as inputs commits before a delete can look for unfinished users).
 */
export async function lockFilesInUse(tx: Knex.Transaction, ids: string[]): Promise<FileRow[]> {
  return tx<FileRow>('files').whereIn('id', ids).forShare();
}

/** The file locked for its deletion (a start taking it waits, then finds it gone). */
export async function lockFileForDelete(tx: Knex.Transaction, id: string): Promise<FileRow | undefined> {
  return tx<FileRow>('files').where({ id }).forUpdate().first();
}

/** How many executions that have not finished use the file, as input or output. */
export async function countUnfinishedUses(db: Knex, fileId: string): Promise<number> {
  const [{ count }] = await db('execution_files as f')
    .join('executions as e', 'e.id', 'f.execution_id')
    .where('f.file_id', fileId)
    .whereNotIn('e.status', FINAL_STATUSES as string[])
    .countDistinct<{ count: number }[]>({ count: 'e.id' });
  return Number(count);
}

export async function deleteFileRow(db: Knex, id: string): Promise<boolean> {
  return (await db('files').where({ id }).delete()) > 0;
}

/** Newest first, after the cursor's id; one row more than the page, to tell whether another follows. */
export async function listFileRows(
  db: Knex,
  filter: { organizationIds?: readonly string[]; beforeId?: string; limit: number },
): Promise<FileRow[]> {
  return db<FileRow>('files')
    .modify((q) => {
      if (filter.organizationIds) q.whereIn('organization_id', filter.organizationIds);
      if (filter.beforeId) q.where('id', '<', filter.beforeId);
    })
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
}

export async function insertExecutionFiles(db: Knex, rows: ExecutionFileRow[]): Promise<void> {
  if (rows.length > 0) await db<ExecutionFileRow>('execution_files').insert(rows);
}

/** An output saved by a node, at the next position of the execution's outputs. */
export async function insertExecutionOutputFile(
  db: Knex,
  row: { execution_id: string; file_id: string; node_id: string },
): Promise<void> {
  await db.raw(
    `insert into execution_files (execution_id, role, position, file_id, node_id)
     select ?, 'output', coalesce(max(position) + 1, 0), ?, ?
       from execution_files where execution_id = ? and role = 'output'`,
    [row.execution_id, row.file_id, row.node_id, row.execution_id],
  );
}

/** An execution's files with their metadata: inputs in their order, then outputs in theirs. */
export async function listExecutionFileRows(
  db: Knex,
  executionId: string,
): Promise<(FileRow & { role: 'input' | 'output'; node_id: string | null })[]> {
  return db('execution_files as x')
    .join('files as f', 'f.id', 'x.file_id')
    .where('x.execution_id', executionId)
    .select('f.*', 'x.role', 'x.node_id')
    .orderByRaw("x.role = 'output', x.position");
}
