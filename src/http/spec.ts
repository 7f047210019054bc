import fs from 'node:fs';
import path from 'node:path';

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
