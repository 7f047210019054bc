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

/**
 * The spec's paths as a tree of segments: a literal segment, or a `{parameter}` that takes any
 * non-empty one. A request path is matched segment by segment, whatever the number of operations.
 */
interface PathNode {
  literal: Map<string, PathNode>;
  params: { name: string; node: PathNode }[];
  /** The operations of the template that ends here, by upper-case method. */
  ops: Map<string, SpecOperation>;
}

const newNode = (): PathNode => ({ literal: new Map(), params: [], ops: new Map() });

let tree: PathNode | undefined;

function pathTree(): PathNode {
  if (tree) return tree;
  const root = newNode();
  for (const op of specOperations()) {
    let node = root;
    for (const segment of op.path.split('/').slice(1)) {
      const param = /^\{([^}]+)\}$/.exec(segment)?.[1];
      if (param) {
        let edge = node.params.find((p) => p.name === param);
        if (!edge) node.params.push((edge = { name: param, node: newNode() }));
        node = edge.node;
      } else {
        let next = node.literal.get(segment);
        if (!next) node.literal.set(segment, (next = newNode()));
        node = next;
      }
    }
    node.ops.set(op.method.toUpperCase(), op);
  }
  return (tree = root);
}

/** The templates a request path matches (a trailing `/` allowed), each with its raw path parameters. */
interface PathMatch {
  node: PathNode;
  params: Record<string, string>;
}

function matchPath(requestPath: string): PathMatch[] {
  const segments = requestPath.split('/');
  if (segments[0] !== '') return [];
  if (segments.length > 2 && segments[segments.length - 1] === '') segments.pop();
  const found: PathMatch[] = [];
  const walk = (node: PathNode, i: number, params: Record<string, string>) => {
    if (i === segments.length) {
      if (node.ops.size > 0) found.push({ node, params });
      return;
    }
    const segment = segments[i];
    const literal = node.literal.get(segment);
    if (literal) walk(literal, i + 1, params);
    if (segment !== '') for (const p of node.params) walk(p.node, i + 1, { ...params, [p.name]: segment });
  };
  walk(pathTree(), 1, {});
  return found;
}

/**
 * The methods the spec defines for a request path (upper case, sorted), or undefined when no path
 * of the spec matches it. Where a fixed path and a template both match (`/executions/package`,
 * `/executions/{id}`), a request there is answered by either, so their methods are united.
 */
export function specMethodsAt(requestPath: string): string[] | undefined {
  return methodsOf(matchPath(requestPath));
}

function methodsOf(matches: PathMatch[]): string[] | undefined {
  if (matches.length === 0) return undefined;
  return [...new Set(matches.flatMap((m) => [...m.node.ops.keys()]))].sort();
}

/**
 * The spec's operation a request is for (by method and path) and its raw (still percent-encoded)
 * path parameters, or undefined when there is none. A fixed path wins over a template.
 */
export function operationOf(
  method: string,
  requestPath: string,
): { op: SpecOperation; pathParams: Record<string, string> } | undefined {
  return operationIn(matchPath(requestPath), method);
}

function operationIn(
  matches: PathMatch[],
  method: string,
): { op: SpecOperation; pathParams: Record<string, string> } | undefined {
  for (const m of matches) {
    const op = m.node.ops.get(method);
    if (op) return { op, pathParams: m.params };
  }
  return undefined;
}

const requestMatches = new WeakMap<object, PathMatch[]>();

/** A request's path matched against the spec once, whoever asks. */
function matchesOfRequest(req: { path: string }): PathMatch[] {
  let found = requestMatches.get(req);
  if (!found) requestMatches.set(req, (found = matchPath(req.path)));
  return found;
}

/** `specMethodsAt` the request's path. */
export function specMethodsAtRequest(req: { path: string }): string[] | undefined {
  return methodsOf(matchesOfRequest(req));
}

/** `operationOf` the request's method and path. */
export function operationOfRequest(req: { method: string; path: string }): ReturnType<typeof operationOf> {
  return operationIn(matchesOfRequest(req), req.method);
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
