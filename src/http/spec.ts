import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';

export const SPEC_YAML_PATH = path.resolve(__dirname, '../../generated/openapi.yaml');
export const SPEC_JSON_PATH = path.resolve(__dirname, '../../generated/openapi.json');

export interface SpecOperation {
  operationId: string;
  method: string;
  path: string;
  /** Express route path: `{id}` becomes `:id`. */
  route: string;
  public: boolean;
  /** Whether the operation takes a request body, and whether it must have one. */
  body: 'required' | 'optional' | undefined;
  /** The path and query parameters whose schema is an integer. */
  integerParams: { in: 'path' | 'query'; name: string }[];
}

type SpecDoc = {
  security?: unknown[];
  paths: Record<
    string,
    Record<
      string,
      { operationId?: string; security?: unknown[]; requestBody?: { required?: boolean }; parameters?: Param[] }
    >
  >;
};

type Param = { in: string; name: string; schema?: { type?: string } } | { $ref: string };

let doc: SpecDoc | undefined;

/** The bundled spec, the one the validator uses and the server publishes. */
export function specDocument(): SpecDoc {
  doc ??= JSON.parse(fs.readFileSync(SPEC_JSON_PATH, 'utf8')) as SpecDoc;
  return doc;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function specOperations(): SpecOperation[] {
  const spec = specDocument();
  return Object.entries(spec.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({
        operationId: op.operationId!,
        method,
        path: p,
        route: p.replace(/\{([^}]+)\}/g, ':$1'),
        public: Array.isArray(op.security) && op.security.length === 0,
        body: op.requestBody ? (op.requestBody.required ? ('required' as const) : ('optional' as const)) : undefined,
        integerParams: (op.parameters ?? [])
          .map((p) => resolveParam(spec, p))
          .filter((p) => (p.in === 'path' || p.in === 'query') && p.schema?.type === 'integer')
          .map((p) => ({ in: p.in as 'path' | 'query', name: p.name })),
      })),
  );
}

/** A parameter, following a `$ref` into the components. */
export function resolveParam(spec: unknown, p: Param): { in: string; name: string; schema?: { type?: string } } {
  if (!('$ref' in p)) return p;
  return p.$ref
    .slice(2)
    .split('/')
    .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], spec) as { in: string; name: string };
}

let matchers: { method: string; pattern: RegExp; op: SpecOperation }[] | undefined;

function operationMatchers(): { method: string; pattern: RegExp; op: SpecOperation }[] {
  matchers ??= specOperations().map((op) => ({
    method: op.method.toUpperCase(),
    pattern: new RegExp(`^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, '(?<$1>[^/]+)')}/?$`),
    op,
  }));
  return matchers;
}

/**
 * The methods the spec defines for a request path (upper case, sorted), or undefined when no path
 * of the spec matches it. Where a fixed path and a template both match (`/executions/package`,
 * `/executions/{id}`), a request there is answered by either, so their methods are united.
 */
export function specMethodsAt(requestPath: string): string[] | undefined {
  const methods = operationMatchers()
    .filter((m) => m.pattern.test(requestPath))
    .map((m) => m.method);
  return methods.length === 0 ? undefined : [...new Set(methods)].sort();
}

/**
 * The spec's operation a request is for (by method and path) and its raw (still percent-encoded)
 * path parameters, or undefined when there is none.
 */
export function operationOf(
  method: string,
  requestPath: string,
): { op: SpecOperation; pathParams: Record<string, string> } | undefined {
  for (const m of operationMatchers()) {
    if (m.method !== method) continue;
    const match = m.pattern.exec(requestPath);
    if (match) return { op: m.op, pathParams: { ...match.groups } };
  }
  return undefined;
}

const matchedRequests = new WeakMap<object, ReturnType<typeof operationOf> | null>();

/** `operationOf` the request's method and path, matched once per request whoever asks. */
export function operationOfRequest(req: { method: string; path: string }): ReturnType<typeof operationOf> {
  let found = matchedRequests.get(req);
  if (found === undefined) {
    found = operationOf(req.method, req.path) ?? null;
    matchedRequests.set(req, found);
  }
  return found ?? undefined;
}

/** Stands for the server's URL in the served copies; each request puts its own in. */
const SERVER_URL_SLOT = 'flowrunner-server-url-slot';
let served: { json: string; yaml: string } | undefined;

/**
 * The spec as this server publishes it. The bundle's server is the relative `/`; the served copy
 * names `serverUrl` instead, so tools pointed at a running server (Swagger UI, Redoc, generators)
 * call that server. The copy is rendered once with a slot for the URL, the URL filled in per request.
 */
export function servedSpec(format: 'json' | 'yaml', serverUrl: string): string {
  if (!served) {
    const servers = [{ url: SERVER_URL_SLOT, description: 'This FlowRunner (the server this document came from)' }];
    const json = { ...(JSON.parse(fs.readFileSync(SPEC_JSON_PATH, 'utf8')) as object), servers };
    const yaml = parseDocument(fs.readFileSync(SPEC_YAML_PATH, 'utf8'));
    yaml.set('servers', servers);
    served = { json: JSON.stringify(json, null, 2) + '\n', yaml: yaml.toString({ lineWidth: 0 }) };
  }
  // A JSON string is also a YAML double-quoted scalar.
  const url = JSON.stringify(serverUrl);
  return format === 'json'
    ? served.json.replace(JSON.stringify(SERVER_URL_SLOT), () => url)
    : served.yaml.replace(SERVER_URL_SLOT, () => url);
}
