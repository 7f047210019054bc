/**
 * Files (002's file inputs): uploads streamed into PostgreSQL, downloads streamed out of it (whole
 * or one byte range), and the rules around them. A file belongs to an organization like every other
 * object (ownership.ts): an upload goes into the one asked for (`edit` there) or the uploader's
 * personal one; its members read and download it, editors delete it; an execution takes files as inputs (`file-inputs.ts`, in the start's
 * transaction) and its nodes may save new ones (engine/files.ts). A file an unfinished execution
 * uses cannot be deleted.
 */
import { decodeIdCursor, encodeIdCursor } from './cursors';
import type { Readable } from 'node:stream';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import { inTransaction } from '../db/transaction';
import type { FileRow } from '../db/tables';
import { ConflictError, InvalidRequestError, RangeNotSatisfiableError } from '../errors';
import { fileTooLarge, readFileContent, writeFileContent } from '../repositories/file-content.repository';
import {
  completeFileRow,
  countUnfinishedUses,
  deleteFileRow,
  findFile,
  insertFileRow,
  listExecutionFileRows,
  listFileRows,
  lockFileForDelete,
} from '../repositories/files.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { existingOrganizationFor } from './organization-for';
import { ownerFilter, permittedOrForbidden, visibleOrNotFound } from './ownership';

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export interface Upload {
  name: string | undefined;
  contentType: string | undefined;
  /** The bytes, read as they are stored (a request, a multipart part). */
  body: AsyncIterable<Buffer | string>;
  /** The length the sender declared (Content-Length), when it did: over the limit is refused before reading. */
  declaredLength?: number;
}

export interface Download {
  file: FileRow;
  etag: string;
  status: 200 | 206 | 304;
  /** The bytes sent (inclusive), for 200 and 206. */
  range?: { start: number; end: number };
  stream?: Readable;
}

// C0 controls and DEL: a name goes into Content-Disposition and logs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~\w-]+\/[!#$%&'*+.^_`|~\w-]+(\s*;.*)?$/;

function checkedName(name: string | undefined): string {
  if (name === undefined || name.trim() === '')
    throw new InvalidRequestError('The file needs a name: ?name=… (or the filename of a multipart part)', {
      field: 'name',
      reason: 'is required',
    });
  if (name.length > 255)
    throw new InvalidRequestError('The file name is longer than 255 characters', {
      field: 'name',
      reason: 'must be at most 255 characters',
    });
  if (CONTROL.test(name))
    throw new InvalidRequestError('The file name contains a control character', {
      field: 'name',
      reason: 'must not contain control characters',
    });
  return name;
}

function checkedContentType(type: string | undefined): string {
  const t = type?.trim();
  if (!t) return DEFAULT_CONTENT_TYPE;
  if (t.length > 255 || !MEDIA_TYPE.test(t))
    throw new InvalidRequestError(`"${t.slice(0, 100)}" is not a media type`, {
      field: 'Content-Type',
      reason: 'must be a media type such as application/pdf',
    });
  return t;
}

/**
 * The one range of a `Range` header (RFC 9110 §14), or undefined when the whole file is sent: no
 * header, one that is not `bytes=` with a single well-formed range (the RFC lets a server ignore
 * those), so only a well-formed range outside the file is refused (416).
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header === undefined ? null : /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // The last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0)
      throw new RangeNotSatisfiableError(`The range asks for none of the file's ${size} bytes`, size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined; // not well-formed: ignored
    if (start >= size)
      throw new RangeNotSatisfiableError(`The range starts after the file's last byte (size ${size})`, size);
  }
  return { start, end };
}

/** Whether `If-None-Match` names this ETag (or is `*`). */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}

export class FilesService {
  constructor(
    private readonly db: Db,
    private readonly maxFileBytes: number,
    private readonly executions: ExecutionsService,
  ) {}

  /**
   * Stores an upload in one transaction: its row, its chunks as they arrive, then its size and
   * digest. Past the limit, or when the body fails midway, the transaction rolls back and nothing
   * of the file remains. It goes into `organizationId` (the caller must be an editor there) or the
   * caller's personal organization.
   */
  async upload(actor: Actor, upload: Upload, organizationId?: string): Promise<FileRow> {
    const organization = await existingOrganizationFor(this.db, actor, organizationId, 'files');
    const name = checkedName(upload.name);
    const contentType = checkedContentType(upload.contentType);
    if (upload.declaredLength !== undefined && upload.declaredLength > this.maxFileBytes)
      throw fileTooLarge(this.maxFileBytes);
    const id = newId('file');
    let tries = 0;
    return inTransaction(this.db, async (tx) => {
      // The body can be read once: a transaction PostgreSQL aborted cannot be run again (it only
      // inserts new rows, so it has nothing to conflict with).
      if (tries++ > 0) throw new Error('an upload cannot be retried');
      await insertFileRow(tx, {
        id,
        account_id: actor.accountId,
        organization_id: organization,
        name,
        content_type: contentType,
        size: 0,
        sha256: '',
        created_by: actor.accountId,
        execution_id: null,
      });
      const { size, sha256 } = await writeFileContent(tx, id, upload.body, this.maxFileBytes);
      return completeFileRow(tx, id, size, sha256);
    });
  }

  async get(actor: Actor, id: string): Promise<FileRow> {
    return visibleOrNotFound(actor, await findFile(this.db, id), 'File');
  }

  async list(
    actor: Actor,
    page: { limit: number; cursor?: string; organization?: string },
  ): Promise<{ rows: FileRow[]; nextCursor: string | null }> {
    const filter = ownerFilter(actor, page.organization);
    const beforeId = page.cursor === undefined ? undefined : decodeIdCursor(page.cursor, 'file-');
    const rows = await listFileRows(this.db, { ...filter, beforeId, limit: page.limit });
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    return { rows: shown, nextCursor: more ? encodeIdCursor(shown[shown.length - 1].id) : null };
  }

  /** Deletes a file and its bytes (an editor of its organization); 409 while an execution that has not finished uses it. */
  async delete(actor: Actor, id: string): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      permittedOrForbidden(actor, await lockFileForDelete(tx, id), 'edit', 'File');
      const uses = await countUnfinishedUses(tx, id);
      if (uses > 0)
        throw new ConflictError(
          `The file is used by ${uses} execution${uses === 1 ? '' : 's'} that ha${uses === 1 ? 's' : 've'} not finished`,
          { field: 'id', reason: 'in use by an unfinished execution; delete it once that has finished' },
        );
      await deleteFileRow(tx, id);
    });
  }

  /** What a download sends: 304 when `If-None-Match` names the file's ETag, else the bytes asked for. */
  async download(actor: Actor, id: string, headers: { range?: string; ifNoneMatch?: string }): Promise<Download> {
    const file = await this.get(actor, id);
    const etag = `"${file.sha256}"`;
    if (noneMatch(headers.ifNoneMatch, etag)) return { file, etag, status: 304 };
    const size = Number(file.size);
    const range = byteRange(headers.range, size);
    const sent = range ?? { start: 0, end: size - 1 };
    return {
      file,
      etag,
      status: range ? 206 : 200,
      range: sent,
      stream: readFileContent(this.db, file.id, sent.start, sent.end),
    };
  }

  /** An execution's input and output files, for whoever may read the execution. */
  async ofExecution(actor: Actor, executionId: string) {
    await this.executions.access(actor, executionId);
    return listExecutionFileRows(this.db, executionId);
  }
}
