/**
 * The files a start takes as inputs (002), checked and locked in the start's transaction. Apart
 * from files.service.ts, which reads executions, so that the executions service can use it.
 */
import type { Tx } from '../db/knex';
import type { FileRow, FileSnapshot } from '../db/tables';
import { ValidationError } from '../errors';
import { lockFilesInUse } from '../repositories/files.repository';
import type { Actor } from './actor';
import { canSee } from './ownership';

export function fileSnapshot(row: FileRow): FileSnapshot {
  return { id: row.id, name: row.name, content_type: row.content_type, size: Number(row.size), sha256: row.sha256 };
}

/**
 * The files a start takes as inputs, in its transaction: each must be one the actor sees (422
 * naming its index otherwise, as for any field of the body), and stays locked against deletion
 * until the start commits.
 */
export async function inputFilesForStart(tx: Tx, actor: Actor, fileIds: string[]): Promise<FileSnapshot[]> {
  const rows = new Map((await lockFilesInUse(tx, [...new Set(fileIds)])).map((r) => [r.id, r]));
  return fileIds.map((id, i) => {
    const row = rows.get(id);
    if (!row || !canSee(actor, row))
      throw new ValidationError(`file_ids[${i}]: no file ${id} of yours`, {
        field: `file_ids[${i}]`,
        reason: 'is not a file of yours (upload it with POST /api/v1/files)',
      });
    return fileSnapshot(row);
  });
}
