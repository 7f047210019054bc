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
}

type SpecDoc = {
  security?: unknown[];
  paths: Record<string, Record<string, { operationId?: string; security?: unknown[] }>>;
};

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
      })),
  );
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
