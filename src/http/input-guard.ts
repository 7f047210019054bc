/**
 * Request text is checked once, where it enters, before the validator, a handler or the database
 * sees it: the path and the query string as sent (percent-encoding that decodes to UTF-8), and the
 * parsed JSON body (its keys and string values, and how deep it nests). A `__proto__` key is
 * refused too: a merge anywhere later would otherwise write it into Object.prototype. PostgreSQL refuses NUL in
 * text and lone UTF-16 surrogates in JSON, and the validator recurses as deep as a body nests, so
 * each of these would otherwise surface later as a 500.
 */
import express, { type Request, type RequestHandler } from 'express';
import { InvalidRequestError, UnsupportedMediaTypeError, unstorableTextReason } from '../errors';
import { operationOfRequest } from './spec';

/** The deepest a JSON body may nest (objects and arrays). */
export const MAX_JSON_DEPTH = 32;
/** The largest JSON body read, in bytes (body-parser's notation). */
export const MAX_BODY_SIZE = '1mb';

function refuse(field: string, reason: string): InvalidRequestError {
  return new InvalidRequestError(`${field}: ${reason}`, { field, reason, errors: [{ field, reason }] });
}

/** Decodes one percent-encoded component; undefined when the encoding is malformed or not UTF-8. */
function decode(component: string, plusIsSpace: boolean): string | undefined {
  try {
    return decodeURIComponent(plusIsSpace ? component.replace(/\+/g, ' ') : component);
  } catch {
    return undefined;
  }
}

function checkUrl(url: string): InvalidRequestError | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  for (const segment of path.split('/')) {
    const text = decode(segment, false);
    if (text === undefined) return refuse('path', 'malformed percent-encoding');
    const reason = unstorableTextReason(text);
    if (reason) return refuse('path', reason);
  }
  if (q < 0) return undefined;
  for (const pair of url.slice(q + 1).split('&')) {
    const [rawName, ...rest] = pair.split('=');
    const name = decode(rawName, true);
    const value = decode(rest.join('='), true);
    const field = name ?? 'query';
    if (name === undefined || value === undefined) return refuse(field, 'malformed percent-encoding');
    const reason = unstorableTextReason(name) ?? unstorableTextReason(value);
    if (reason) return refuse(field, reason);
  }
  return undefined;
}

/** Walks a parsed body without recursion (its depth is what is being checked). */
function checkBody(body: unknown): InvalidRequestError | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const reason = unstorableTextReason(value);
      if (reason) return refuse(path || 'body', reason);
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_JSON_DEPTH) return refuse(path || 'body', `must not nest deeper than ${MAX_JSON_DEPTH} levels`);
      for (const [key, child] of Object.entries(value)) {
        const childPath = path ? `${path}.${key}` : key;
        const reason = unstorableTextReason(key) ?? (key === '__proto__' ? 'must not be __proto__' : undefined);
        if (reason) return refuse(path || 'body', `a key ${reason}`);
        stack.push({ value: child, path: childPath, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

const DECIMAL_INTEGER = /^-?[0-9]{1,16}$/;

/**
 * An integer parameter is written in decimal digits. The validator's coercion would take `1e3`,
 * `Infinity` or `0x10` for integers, and not every layer after it agrees; its range check (the
 * spec states every integer's maximum) then does the rest.
 */
function checkIntegerParams(req: Request): InvalidRequestError | undefined {
  const found = operationOfRequest(req);
  if (!found) return undefined;
  for (const p of found.op.integerParams) {
    const raw = p.in === 'path' ? found.pathParams[p.name] : (req.query as Record<string, unknown>)[p.name];
    for (const value of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      if (typeof value !== 'string' || !DECIMAL_INTEGER.test(value)) {
        return refuse(p.name, 'must be an integer written in decimal digits');
      }
    }
  }
  return undefined;
}

/** Before anything reads the path or the query: refuses text that cannot be decoded or stored. */
export const urlTextGuard: RequestHandler = (req, _res, next) => {
  next(checkUrl(req.originalUrl));
};

/** After authentication (the shape of a request is for callers): integer parameters are integers. */
export const integerParamsGuard: RequestHandler = (req, _res, next) => {
  next(checkIntegerParams(req));
};

/** After the body is parsed: refuses strings that cannot be stored and nesting beyond the limit. */
const bodyTextGuard: RequestHandler = (req, _res, next) => {
  next(req.body === undefined ? undefined : checkBody(req.body));
};

/**
 * Reads a JSON body only for an operation that takes one (so it runs after authentication, and a
 * stranger's body is never read). A body that is not JSON, or has no Content-Type, is a 415; a
 * missing body where one is required a 400. Where the operation takes none, a body is ignored:
 * RFC 9110 gives content in a GET (or any request whose method defines none) no meaning, and Node
 * drains it, so the connection stays usable.
 *
 * A plain UTF-8 body is read by `readJson` below; one with a Content-Encoding or another UTF
 * charset goes to body-parser, which inflates and decodes them, with the same limit and errors.
 */
export function jsonBody(): RequestHandler {
  const parse = express.json({ limit: MAX_BODY_SIZE, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    const op = operationOfRequest(req)?.op;
    if (!op?.body || !hasBody(req)) {
      forgetContentType(req);
      if (op?.body === 'required') return next(refuse('body', 'the request body is required'));
      return next();
    }
    const type = req.headers['content-type'];
    const plain = type !== undefined && PLAIN_JSON.test(type) && !req.headers['content-encoding'];
    if (!plain && !req.is(['application/json', 'application/*+json'])) {
      return next(
        new UnsupportedMediaTypeError('The request body must be application/json', {
          field: 'Content-Type',
          reason: type === undefined ? 'the header is missing' : `${type} is not application/json`,
        }),
      );
    }
    const parsed = (err?: unknown) => {
      if (err) return next(err);
      req.headers['content-type'] = 'application/json';
      bodyTextGuard(req, res, next);
    };
    if (plain) readJson(req, parsed);
    else parse(req, res, parsed);
  };
}

/** `application/json` or `application/…+json`, with no parameter other than a UTF-8 charset. */
const PLAIN_JSON = /^application\/(?:json|[!#$%&'*.^`|~\w-]+\+json)\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

const MAX_BODY_BYTES = 1024 * 1024;

/** An error as body-parser (http-errors) makes it, for the error mapping to read the same. */
function bodyError(status: number, type: string, message: string): Error & { status: number; type: string } {
  return Object.assign(new Error(message), { status, type, expose: true });
}

/**
 * Reads the body as body-parser's JSON parser does for plain UTF-8 (limit, a byte-order mark
 * dropped, only an object or an array at the top, the same error types), without its stream and
 * decoder machinery. A body over the limit is drained before the 413, so the connection stays usable.
 */
function readJson(req: Request, done: (err?: unknown) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return done(bodyError(413, 'entity.too.large', 'request entity too large'));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let failed: Error | undefined;
  let finished = false;
  // Listeners stay until the request is gone: after the end only 'close' comes, and finds it complete.
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    done(err);
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (failed) return;
    if (size > MAX_BODY_BYTES) failed = bodyError(413, 'entity.too.large', 'request entity too large');
    else chunks.push(chunk);
  });
  req.on('end', () => {
    if (failed) return finish(failed);
    let text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    try {
      req.body = parseStrictJson(text);
    } catch (err) {
      return finish(Object.assign(err as Error, { status: 400, type: 'entity.parse.failed', expose: true }));
    }
    finish();
  });
  req.on('close', () => {
    if (!req.complete) finish(bodyError(400, 'request.aborted', 'request aborted'));
  });
  req.on('error', finish);
}

const FIRST_CHAR = /^[ \t\n\r]*([^ \t\n\r])/;

/** JSON.parse, refusing what is not an object or an array at the top (body-parser's `strict`); an empty body is `{}`. */
function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = FIRST_CHAR.exec(text)?.[1];
  if (first !== '{' && first !== '[') {
    const at = text.indexOf(first ?? '');
    throw new SyntaxError(
      `Unexpected token '${first ?? ''}', "${text.slice(0, 20)}" is not valid JSON at position ${at}`,
    );
  }
  return JSON.parse(text) as unknown;
}

/**
 * express-openapi-validator compiles and keeps validators per method, route and the request's
 * Content-Type as sent, parameters included: every new `application/json; x=…` would compile the
 * spec's schemas again and stay in memory for good. So the validator sees one media type per
 * operation: `application/json` for a body that was read, none where no body was read.
 */
function forgetContentType(req: Request): void {
  delete req.headers['content-type'];
}

function hasBody(req: Request): boolean {
  return Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * The `date-time` format as the validator checks it: RFC 3339 that PostgreSQL also stores — a real
 * calendar day, a year from 1 to 9999, an offset within ±15:59 (ajv-formats lets ±23:59 through).
 */
export function isStorableDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (year < 1 || hour > 23 || minute > 59 || second > 59 || offsetHours > 15 || offsetMinutes > 59) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  date.setUTCFullYear(year);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
