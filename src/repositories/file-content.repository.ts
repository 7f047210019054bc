/**
 * A file's bytes: rows of `file_chunks`, FILE_CHUNK_BYTES each (the last one shorter), written and
 * read one chunk at a time so that no more than a chunk or two of a file is ever in memory,
 * whatever its size. The writer computes the size and SHA-256 as the bytes pass.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { Knex } from 'knex';
import { PayloadTooLargeError } from '../errors';

/** The size of a chunk row: big enough that a 100 MiB file is 400 rows, small enough to hold a few. */
export const FILE_CHUNK_BYTES = 256 * 1024;

export async function insertFileChunk(db: Knex, fileId: string, seq: number, data: Buffer): Promise<void> {
  await db('file_chunks').insert({ file_id: fileId, seq, data });
}

export async function findFileChunk(db: Knex, fileId: string, seq: number): Promise<Buffer | undefined> {
  const row = await db('file_chunks').where({ file_id: fileId, seq }).first<{ data: Buffer } | undefined>('data');
  return row?.data;
}

/** The error a write throws past its limit (nothing of the file is kept: its transaction rolls back). */
export function fileTooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The file is larger than the ${maxBytes}-byte limit`, {
    field: 'body',
    limit: maxBytes,
  });
}

/**
 * Stores `source` as the file's chunks (inside the caller's transaction), waiting for each chunk's
 * insert before reading on, so a fast sender is held back rather than buffered. Throws
 * `fileTooLarge` as soon as more than `maxBytes` arrived.
 */
export async function writeFileContent(
  tx: Knex.Transaction,
  fileId: string,
  source: AsyncIterable<Buffer | string>,
  maxBytes: number,
): Promise<{ size: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (all: boolean) => {
    while (pendingBytes >= FILE_CHUNK_BYTES || (all && pendingBytes > 0)) {
      const joined = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      const chunk = joined.subarray(0, FILE_CHUNK_BYTES);
      const rest = joined.subarray(chunk.length);
      pending = rest.length > 0 ? [Buffer.from(rest)] : [];
      pendingBytes = rest.length;
      await insertFileChunk(tx, fileId, seq++, chunk);
    }
  };
  for await (const piece of source) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    size += buf.length;
    if (size > maxBytes) throw fileTooLarge(maxBytes);
    hash.update(buf);
    pending.push(buf);
    pendingBytes += buf.length;
    if (pendingBytes >= FILE_CHUNK_BYTES) await flush(false);
  }
  await flush(true);
  return { size, sha256: hash.digest('hex') };
}

/**
 * Bytes `start` to `end` (inclusive) of a file of `size` bytes, as a stream that reads one chunk row
 * when its reader wants more (so a slow client holds back the reads, and an aborted download
 * stops them). A chunk missing midway (the file was deleted during the download) ends it with an error.
 */
export function readFileContent(db: Knex, fileId: string, start: number, end: number): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    if (end < start) return;
    const first = Math.floor(start / FILE_CHUNK_BYTES);
    const last = Math.floor(end / FILE_CHUNK_BYTES);
    for (let seq = first; seq <= last; seq++) {
      const data = await findFileChunk(db, fileId, seq);
      if (!data) throw new Error(`chunk ${seq} of file ${fileId} is missing (deleted while it was read?)`);
      const from = seq === first ? start - seq * FILE_CHUNK_BYTES : 0;
      const to = seq === last ? end - seq * FILE_CHUNK_BYTES + 1 : data.length;
      yield data.subarray(from, to);
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: FILE_CHUNK_BYTES });
}
