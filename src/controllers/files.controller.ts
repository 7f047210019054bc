/**
 * Files (002). An upload's body is not JSON and may be large: `uploadFile` reaches its handler
 * before anything reads the body (http/app.ts), and the handler hands the request on as a stream —
 * the raw body itself, or the `file` part of a multipart body, parsed by busboy as it arrives.
 */
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import busboy from 'busboy';
import { AppError, InvalidRequestError } from '../errors';
import type { Handlers } from '../http/operations';
import { contentDisposition, toExecutionFile, toFileMetadata } from '../presenters/files.presenter';
import type { Services } from '../services';
import type { Upload } from '../services/files.service';
import { message } from './replies';

/**
 * The body's pieces. A store that stops early (the limit) leaves the stream open, so that the rest
 * can be dropped and the connection kept (a stream's own iterator would destroy it, and the socket
 * with it). A body that ends early (the client went away) or is malformed is the request's fault: 400.
 */
async function* readOrRefuse(source: Readable): AsyncGenerator<Buffer | string> {
  try {
    for await (const piece of source.iterator({ destroyOnReturn: false })) yield piece as Buffer | string;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new InvalidRequestError('The request body ended early or is malformed', {
      field: 'body',
      reason: (err as Error).message,
    });
  }
}

/** The `file` part of a multipart/form-data body, once its headers have arrived; other parts are skipped. */
function multipartUpload(req: Request, name: string | undefined): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1 } });
    } catch (err) {
      return reject(
        new InvalidRequestError('The multipart body cannot be read', {
          field: 'Content-Type',
          reason: (err as Error).message,
        }),
      );
    }
    let part: Readable | undefined;
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || part) return void stream.resume();
      part = stream;
      resolve({ name: name ?? info.filename, contentType: info.mimeType, body: readOrRefuse(stream) });
    });
    parser.on('error', (err: Error) => {
      const refused = new InvalidRequestError('The multipart body is malformed', {
        field: 'body',
        reason: err.message,
      });
      // Once the part is being stored, its stream fails, and the store rolls back.
      if (part) part.destroy(refused);
      else reject(refused);
    });
    parser.on('close', () => {
      if (!part)
        reject(
          new InvalidRequestError('The multipart body has no part named file', {
            field: 'file',
            reason: 'is required',
          }),
        );
    });
    req.pipe(parser);
  });
}

function uploadOf(req: Request, name: string | undefined): Promise<Upload> | Upload {
  if (req.is('multipart/form-data')) return multipartUpload(req, name);
  const length = req.get('content-length');
  return {
    name,
    contentType: req.get('content-type'),
    body: readOrRefuse(req),
    declaredLength: length === undefined ? undefined : Number(length),
  };
}

/** The most of a refused upload's body read (and dropped) before its answer; beyond, the connection closes. */
const MAX_DROPPED_BYTES = 32 * 1024 * 1024;

/**
 * Before an upload's error is answered, the rest of its body is read and dropped: a client still
 * sending when the answer comes and the connection closes sees a reset instead of the answer. A
 * body far larger than that is cut off: the answer says `Connection: close`.
 */
function dropRestOf(req: Request, res: Response): Promise<void> {
  req.unpipe();
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let dropped = 0;
    const done = () => {
      req.off('data', count);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    const count = (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > MAX_DROPPED_BYTES) {
        res.setHeader('Connection', 'close');
        done();
      }
    };
    req.on('data', count);
    req.on('end', done);
    req.on('close', done);
    req.resume();
  });
}

export function fileHandlers(s: Services): Handlers {
  return {
    uploadFile: async ({ actor, query, req, res }) => {
      try {
        const file = await s.files.upload(actor, await uploadOf(req, query.name), query.organization_id);
        return { status: 201, body: toFileMetadata(file), headers: { Location: `/api/v1/files/${file.id}` } };
      } catch (err) {
        await dropRestOf(req, res);
        throw err;
      }
    },
    listFiles: async ({ actor, query }) => {
      const { rows, nextCursor } = await s.files.list(actor, {
        limit: query.limit ?? 50,
        cursor: query.cursor,
        organization: query.organization,
      });
      return { status: 200, body: { items: rows.map(toFileMetadata), next_cursor: nextCursor } };
    },
    getFile: async ({ actor, params }) => ({ status: 200, body: toFileMetadata(await s.files.get(actor, params.id)) }),
    deleteFile: async ({ actor, params }) => {
      await s.files.delete(actor, params.id);
      return message('File deleted successfully');
    },
    downloadFile: async ({ actor, params, headers }) => {
      const d = await s.files.download(actor, params.id, {
        range: headers.Range,
        ifNoneMatch: headers['If-None-Match'],
      });
      const validators = { ETag: d.etag, 'Cache-Control': 'private, no-cache' };
      if (d.status === 304) return { status: 304, body: undefined, headers: validators };
      const { start, end } = d.range!;
      const sent = {
        ...validators,
        'Content-Type': d.file.content_type,
        'Content-Length': String(end - start + 1),
        'Content-Disposition': contentDisposition(d.file.name),
        'Accept-Ranges': 'bytes',
        // Uploaded bytes are never run as a page of this origin, whatever their type says.
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': "sandbox; default-src 'none'",
      };
      if (d.status === 206)
        return {
          status: 206,
          body: undefined,
          headers: { ...sent, 'Content-Range': `bytes ${start}-${end}/${Number(d.file.size)}` },
          stream: d.stream,
        };
      return { status: 200, body: undefined, headers: sent, stream: d.stream };
    },
    listExecutionFiles: async ({ actor, params }) => ({
      status: 200,
      body: { items: (await s.files.ofExecution(actor, params.id)).map(toExecutionFile) },
    }),
  };
}
