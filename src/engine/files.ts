/**
 * Files as nodes use them (002): `http.request` sends a file of the execution's organization (or
 * of its account) as its body (`body_file`) and saves a response as a new file of the execution's
 * organization (`save_response_as_file`), which the execution lists as its output. Both stream: a file is never held whole in memory.
 */
import type { Readable } from 'node:stream';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import { inTransaction } from '../db/transaction';
import type { ExecutionRow, FileSnapshot } from '../db/tables';
import { PayloadTooLargeError } from '../errors';
import { readFileContent, writeFileContent } from '../repositories/file-content.repository';
import { completeFileRow, findFile, insertExecutionOutputFile, insertFileRow } from '../repositories/files.repository';
import { NodeError, type EngineFiles } from './nodes/types';

export function engineFiles(
  db: Db,
  maxFileBytes: number,
  execution: Pick<ExecutionRow, 'id' | 'account_id' | 'organization_id'>,
  nodeId: string,
): EngineFiles {
  return {
    async open(fileId: string) {
      const row = await findFile(db, fileId);
      if (!row || (row.organization_id !== execution.organization_id && row.account_id !== execution.account_id))
        throw new NodeError(
          `file "${fileId}" not found (a file of this execution's organization or account is needed)`,
        );
      const file: FileSnapshot = {
        id: row.id,
        name: row.name,
        content_type: row.content_type,
        size: Number(row.size),
        sha256: row.sha256,
      };
      return { file, stream: (): Readable => readFileContent(db, row.id, 0, file.size - 1) };
    },

    async save(name: string, contentType: string, body: AsyncIterable<Buffer | string>) {
      const id = newId('file');
      let tries = 0;
      try {
        const row = await inTransaction(db, async (tx) => {
          // The body can be read once (see FilesService.upload).
          if (tries++ > 0) throw new Error('a saved response cannot be stored again');
          await insertFileRow(tx, {
            id,
            account_id: execution.account_id,
            organization_id: execution.organization_id,
            name,
            content_type: contentType,
            size: 0,
            sha256: '',
            created_by: null,
            execution_id: execution.id,
          });
          const { size, sha256 } = await writeFileContent(tx, id, body, maxFileBytes);
          await insertExecutionOutputFile(tx, { execution_id: execution.id, file_id: id, node_id: nodeId });
          return completeFileRow(tx, id, size, sha256);
        });
        return { id, name, content_type: contentType, size: Number(row.size), sha256: row.sha256 };
      } catch (err) {
        if (err instanceof PayloadTooLargeError)
          throw new NodeError(`the response is larger than FLOWRUNNER_MAX_FILE_BYTES (${maxFileBytes} bytes)`);
        throw err;
      }
    },
  };
}
