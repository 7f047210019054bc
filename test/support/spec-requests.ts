/**
 * Requests generated from the published contract (generated/openapi.json) for any operation: valid
 * ones (from the schemas and their examples) and hostile mutations of them. Used by the fuzz test
 * (test/api/fuzz.test.ts, which says what the mutations are) and by the fast lane's comparison of
 * its answers with express-openapi-validator's (test/api/fast-lane.test.ts).
 */
import fc from 'fast-check';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { SPEC_JSON_PATH } from '../../src/http/spec';

export type Schema = Record<string, unknown>;
export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
export interface Operation {
  operationId: string;
  method: string;
  path: string;
  parameters: Param[];
  body?: Schema;
  statuses: Set<number>;
  public: boolean;
}

const spec = JSON.parse(fs.readFileSync(SPEC_JSON_PATH, 'utf8')) as Schema;

/** Inlines `$ref`s (the spec has no recursive schemas). */
function deref(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(deref);
  if (!node || typeof node !== 'object') return node;
  const ref = (node as { $ref?: string }).$ref;
  if (ref) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((o, k) => (o as Schema)[k], spec);
    return deref(target);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'example' ? v : deref(v)]));
}

export const operations: Operation[] = Object.entries(spec.paths as Record<string, Schema>).flatMap(([path, item]) =>
  Object.entries(item).map(([method, raw]) => {
    const op = deref(raw) as Schema;
    const body = (op.requestBody as Schema | undefined)?.content as Record<string, { schema: Schema }> | undefined;
    return {
      operationId: op.operationId as string,
      method: method.toUpperCase(),
      path,
      parameters: (op.parameters ?? []) as Param[],
      body: body?.['application/json']?.schema,
      statuses: new Set(
        Object.keys(op.responses as Schema)
          .filter((s) => s !== 'default')
          .map(Number),
      ),
      public: Array.isArray(op.security) && (op.security as unknown[]).length === 0,
    };
  }),
);

export const VALID_DEFINITION = 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n';
const ALIAS_BOMB =
  'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n' +
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nnodes: {}\n';

/** A value for a schema: its example often (requests that get past validation), else generated. */
export function valueOf(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const generated = generatedValueOf(schema, depth);
  return schema.example !== undefined ? fc.oneof(fc.constant(schema.example), generated) : generated;
}

function generatedValueOf(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const branches = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (branches) return fc.oneof(...branches.map((b) => valueOf(b, depth)));
  if (Array.isArray(schema.allOf)) return valueOf(Object.assign({}, ...(schema.allOf as Schema[])) as Schema, depth);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time')
        return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({
        minLength: Number(schema.minLength ?? 0),
        maxLength: Math.min(Number(schema.maxLength ?? 24), 24),
        unit: 'grapheme',
      });
    case 'integer':
      return fc.integer({ min: Number(schema.minimum ?? -5), max: Math.min(Number(schema.maximum ?? 1000), 1000) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(valueOf((schema.items ?? {}) as Schema, depth + 1), { maxLength: 3 });
    case 'object':
    case undefined: {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      if (Object.keys(props).length === 0 || depth > 3) return fc.jsonValue({ maxDepth: 2 });
      const record = Object.fromEntries(
        Object.entries(props).map(([k, s]) => [
          k,
          k === 'definition' ? fc.constant(VALID_DEFINITION) : valueOf(s, depth + 1),
        ]),
      );
      return fc.record(record, { requiredKeys: (schema.required ?? []) as string[] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

export const MUTATIONS = [
  'none',
  'none',
  'none',
  'nul-path',
  'nul-query',
  'nul-body-value',
  'nul-body-key',
  'surrogate-body',
  'deep-body',
  'alias-bomb',
  'yaml-escapes',
  'integer-out-of-range',
  'integer-not-decimal',
  'bad-date',
  'bad-percent-path',
  'bad-percent-query',
  'content-type',
  'malformed-json',
  'unknown-query',
  'undeclared-method',
  'chunked-body',
  'stray-body',
  'broken-framing',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** How the body is framed: by Content-Length (the default), chunked, or not well-formed HTTP/1.1. */
  framing?: 'chunked' | 'broken';
  /** The methods the request's path has, when `method` is not one of them (405 expected). */
  allow?: string[];
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const BROKEN_FRAMINGS = [
  { 'transfer-encoding': 'chunked', body: 'not a chunk size\r\n\r\n' },
  { 'transfer-encoding': 'chunked', 'content-length': '5', body: '0\r\n\r\n' },
  { 'transfer-encoding': 'gzip', body: 'hello' },
];

/** The methods every spec path matching `requestPath` defines (a fixed path can also match a template). */
function methodsAt(requestPath: string): string[] {
  const pathOnly = requestPath.split('?')[0];
  return [
    ...new Set(
      operations
        .filter((o) => new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathOnly))
        .map((o) => o.method),
    ),
  ].sort();
}

const enc = (v: unknown) => encodeURIComponent(String(v));

/** Puts `value` in one string of a JSON value (or adds it as a field when there is none). */
function injectString(body: unknown, value: string, asKey: boolean): unknown {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const entries = Object.entries(body);
    if (asKey) return { ...body, [`k${value}`]: 'x' };
    const s = entries.find(([, v]) => typeof v === 'string');
    return s ? { ...body, [s[0]]: `${String(s[1])}${value}` } : { ...body, name: `x${value}` };
  }
  return asKey ? { [`k${value}`]: 'x' } : `x${value}`;
}

export function buildRequest(
  op: Operation,
  values: { path: Record<string, unknown>; query: Record<string, unknown>; headers: Record<string, unknown> },
  body: unknown,
  mutation: Mutation,
  pick: number,
): RawRequest {
  const intParams = op.parameters.filter((p) => p.schema?.type === 'integer' && p.in !== 'header');
  const badInts = ['99999999999999999999', '2147483648', '1e3', 'Infinity', '1e308', '-1', '0x10', '1.5'];
  const path = { ...values.path };
  const query: Record<string, string> = Object.fromEntries(
    Object.entries(values.query).map(([k, v]) => [enc(k), Array.isArray(v) ? v.map(enc).join(`&${enc(k)}=`) : enc(v)]),
  );
  let rawPathParams = Object.fromEntries(Object.entries(path).map(([k, v]) => [k, enc(v)]));
  let text = body === undefined ? undefined : JSON.stringify(body);
  let contentType = 'application/json';
  const pathNames = Object.keys(rawPathParams);
  const someParam = pathNames[pick % Math.max(pathNames.length, 1)];
  switch (mutation) {
    case 'nul-path':
      if (someParam) rawPathParams[someParam] += '%00';
      else query.q = '%00';
      break;
    case 'nul-query':
      query[Object.keys(query)[0] ?? 'limit'] = `1%00`;
      break;
    case 'nul-body-value':
      text = JSON.stringify(injectString(body ?? {}, '\u0000', false));
      break;
    case 'nul-body-key':
      text = JSON.stringify(injectString(body ?? {}, '\u0000', true));
      break;
    case 'surrogate-body':
      text = JSON.stringify(injectString(body ?? {}, 'LONE', pick % 2 === 0)).replace('LONE', '\\ud800');
      break;
    case 'deep-body': {
      const n = 2000 + pick;
      text = `{"values":${'['.repeat(n)}${']'.repeat(n)},"input":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
      break;
    }
    case 'alias-bomb':
      text = JSON.stringify({ ...(body as object), definition: ALIAS_BOMB });
      break;
    case 'yaml-escapes':
      text = JSON.stringify({
        ...(body as object),
        definition: pick % 2 ? 'nodes: {"a\\0": {type: log}}' : `nodes: ${'['.repeat(30000)}`,
      });
      break;
    case 'integer-out-of-range':
    case 'integer-not-decimal': {
      const p = intParams[pick % Math.max(intParams.length, 1)];
      const bad = badInts[(pick + (mutation === 'integer-not-decimal' ? 2 : 0)) % badInts.length];
      if (p?.in === 'path') rawPathParams[p.name] = bad;
      else query[p?.name ?? 'offset'] = bad;
      break;
    }
    case 'bad-date':
      text = JSON.stringify({
        ...(body as object),
        expires_at: [
          '2030-02-30T00:00:00Z',
          '2030-01-01T00:00:00+16:00',
          '0000-01-01T00:00:00Z',
          '2030-01-01T25:00:00Z',
        ][pick % 4],
      });
      break;
    case 'bad-percent-path':
      if (someParam) rawPathParams[someParam] = ['%', '%E0%A4%A', '%ED%A0%80', '%zz'][pick % 4];
      else query.x = '%';
      break;
    case 'bad-percent-query':
      query[Object.keys(query)[0] ?? 'limit'] = ['%', '%E0%A4%A', '%ED%A0%80', '%C0%80'][pick % 4];
      break;
    case 'content-type':
      contentType = ['text/plain', '', 'application/json; charset=latin1', 'application/x-www-form-urlencoded'][
        pick % 4
      ];
      text ??= '{}';
      break;
    case 'malformed-json':
      text = ['{"a":', '{"a":1}}', 'nul', '\u0000'][pick % 4];
      break;
    case 'unknown-query':
      query[`zz${pick}`] = '1';
      break;
    case 'chunked-body':
    case 'stray-body':
      // An operation that takes no body gets one anyway, which it ignores.
      text ??= JSON.stringify({ stray: pick });
      break;
    case 'none':
      break;
  }
  const p = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => rawPathParams[name] ?? 'x');
  const qs = Object.entries(query)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(values.headers).map(([k, v]) => [k, String(v).replace(/[^\x20-\x7e]/g, '')]),
  );
  if (text !== undefined && contentType) headers['content-type'] = contentType;
  const request: RawRequest = { method: op.method, path: qs ? `${p}?${qs}` : p, headers, body: text };
  if (mutation === 'undeclared-method') {
    const allow = methodsAt(request.path);
    const others = HTTP_METHODS.filter((m) => !allow.includes(m));
    request.method = others[pick % others.length];
    request.allow = allow;
  } else if (mutation === 'chunked-body') {
    request.framing = 'chunked';
    headers['transfer-encoding'] = 'chunked';
  } else if (mutation === 'broken-framing') {
    const { body: broken, ...framing } = BROKEN_FRAMINGS[pick % BROKEN_FRAMINGS.length];
    request.framing = 'broken';
    request.body = broken;
    Object.assign(headers, framing);
  }
  if (request.body !== undefined && request.framing === undefined)
    headers['content-length'] = String(Buffer.byteLength(request.body));
  rawPathParams = {};
  return request;
}

export interface Answer {
  status: number;
  type: string;
  allow?: string;
  connection?: string;
  body: string;
}

/** Writes the request's bytes as they are (Node's client would frame them properly) and reads one answer. */
function sendBroken(base: string, req: RawRequest): Promise<Answer> {
  const url = new URL(base);
  const head = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${url.host}`]
    .concat(Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`))
    .join('\r\n');
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(`${head}\r\n\r\n${req.body}`));
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (received += c));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = received.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = received.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({
        status: Number(statusLine.split(' ')[1]),
        type: headers['content-type'] ?? '',
        connection: headers.connection,
        body: received.slice(end + 4),
      });
    });
  });
}

export function send(base: string, req: RawRequest): Promise<Answer> {
  if (req.framing === 'broken') return sendBroken(base, req);
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            allow: res.headers.allow,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    r.on('error', reject);
    if (req.framing === 'chunked') {
      // In two chunks, so the server cannot take it for one piece.
      const half = Math.floor((req.body ?? '').length / 2);
      r.write(req.body!.slice(0, half));
      r.end(req.body!.slice(half));
    } else if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}

/** Real ids by path parameter name, offered next to random ones so requests get past "not found". */
export type KnownIds = Record<string, string[]>;

/** One generated request for `op`, with the mutation it got. */
export function requestFor(op: Operation, ids: KnownIds): fc.Arbitrary<{ request: RawRequest; mutation: Mutation }> {
  // An empty path parameter names another path (`/secrets/` is the collection), not this operation.
  const pathValue = (p: Param) => {
    const generated = valueOf({ ...p.schema, minLength: Math.max(1, Number(p.schema.minLength ?? 1)) });
    return ids[p.name] ? fc.oneof(fc.constantFrom(...ids[p.name]), generated) : generated;
  };
  const paramArb = (where: 'path' | 'query' | 'header') =>
    fc.record(
      Object.fromEntries(
        op.parameters
          .filter((p) => p.in === where)
          .map((p) => [p.name, where === 'path' ? pathValue(p) : valueOf(p.schema)]),
      ),
      {
        requiredKeys: op.parameters.filter((p) => p.in === where && (p.required || p.in === 'path')).map((p) => p.name),
      },
    );
  return fc
    .tuple(
      paramArb('path'),
      paramArb('query'),
      paramArb('header'),
      op.body ? valueOf(op.body) : fc.constant(undefined),
      fc.constantFrom(...MUTATIONS),
      fc.nat(1000),
    )
    .map(([path, query, headers, body, mutation, pick]) => ({
      request: buildRequest(op, { path, query, headers }, body, mutation, pick),
      mutation,
    }));
}
