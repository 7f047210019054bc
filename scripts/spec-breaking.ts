/**
 * Fails when the contract in openapi/ would break clients of the released one
 * (openapi/released/openapi.json), unless info.version raises the released major.
 *
 *   npm run spec:breaking    bundle openapi/ and compare it with the released contract
 *   npm run spec:release     make the current bundle the released contract (when a version is published)
 *   tsx scripts/spec-breaking.ts --spec <bundle.json> [--released <bundle.json>]   compare two bundles
 *
 * The verdict is openapi-diff's (Atlassian; set semantics through json-schema-diff): a path, an
 * operation or a response status removed, a request body that accepts less than before, a response
 * body that may hold what it could not before. Both documents are made comparable first:
 * - `$ref`s are inlined, so a changed component counts in every operation that uses it;
 * - response bodies are read as open (no `additionalProperties: false`): clients ignore fields they
 *   don't know, so an added response field is not breaking and a removed one is;
 * - a `oneOf` whose branches a discriminator keeps apart becomes the equivalent `anyOf`
 *   (json-schema-diff expands `oneOf` into complements, which takes minutes on ExecutionEvent);
 * - an integer in a request without a maximum is read as bounded at what the server stores
 *   (2147483647): a larger one was a 500, so stating that maximum narrows no accepted input;
 * - operations equal on both sides are left out: they have nothing to find;
 * - parameters, which openapi-diff does not compare, are checked here: one removed, one added as
 *   required or made required, and a schema that accepts less (openapi-diff again, as the request
 *   body of a stand-in operation).
 * Not compared: security, and bodies other than JSON.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import openapiDiff from 'openapi-diff';
import { bundleSpec } from './generate';

const root = path.resolve(__dirname, '..');
export const RELEASED_PATH = path.join(root, 'openapi', 'released', 'openapi.json');

type Schema = { [key: string]: unknown };
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
type Operation = { parameters?: Parameter[] } & Schema;
type PathItem = { parameters?: Parameter[] } & { [key: string]: unknown };
interface Doc {
  info: { version: string };
  paths: Record<string, PathItem>;
  [key: string]: unknown;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const methodsOf = (item: PathItem) => Object.keys(item).filter((k) => METHODS.includes(k));
/** Keys whose values are data, not schemas. */
const DATA_KEYS = new Set(['example', 'examples', 'enum', 'default']);

function inlineRefs(doc: Doc): Doc {
  const resolve = (ref: string): unknown =>
    ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')],
        doc,
      );
  const walk = (node: unknown, stack: string[]): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, stack));
    if (!node || typeof node !== 'object') return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith('#/')) {
      if (stack.includes(ref)) return node; // a cycle stays a reference
      const target = resolve(ref);
      if (target === undefined) throw new Error(`Unresolved $ref ${ref}`);
      return walk(target, [...stack, ref]);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, stack)]));
  };
  return walk(doc, []) as Doc;
}

/** Every schema-like object below `node`, data values (examples, enums, defaults) left out. */
function* objectsBelow(node: unknown): Generator<Schema> {
  if (Array.isArray(node)) for (const n of node) yield* objectsBelow(n);
  else if (node && typeof node === 'object') {
    yield node as Schema;
    for (const [k, v] of Object.entries(node)) if (!DATA_KEYS.has(k)) yield* objectsBelow(v);
  }
}

/** A `oneOf` is an `anyOf` when each branch requires the discriminator with a value of its own. */
function oneOfToAnyOf(schema: Schema): void {
  const discriminator = (schema.discriminator as { propertyName?: string } | undefined)?.propertyName;
  if (!Array.isArray(schema.oneOf) || !discriminator) return;
  const values: unknown[] = [];
  for (const branch of schema.oneOf as Schema[]) {
    const prop = (branch.properties as Record<string, Schema> | undefined)?.[discriminator];
    const required = Array.isArray(branch.required) && branch.required.includes(discriminator);
    if (!required || !Array.isArray(prop?.enum)) return;
    values.push(...prop.enum);
  }
  if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) return;
  schema.anyOf = schema.oneOf;
  delete schema.oneOf;
}

function operations(doc: Doc): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    methodsOf(item).map((m): [string, string, Operation] => [p, m, item[m] as Operation]),
  );
}

/** The largest integer the server stores (PostgreSQL `integer`); see `comparable`. */
const STORED_INTEGER_MAX = 2147483647;

function comparable(bundle: Doc): Doc {
  const doc = inlineRefs(bundle);
  for (const item of Object.values(doc.paths)) {
    // Path-level parameters belong to each operation (unless it redefines them).
    for (const m of methodsOf(item)) {
      const op = item[m] as Operation;
      const own = new Set((op.parameters ?? []).map(parameterKey));
      op.parameters = [...(item.parameters ?? []).filter((p) => !own.has(parameterKey(p))), ...(op.parameters ?? [])];
    }
    delete item.parameters;
  }
  for (const node of objectsBelow(doc.paths)) oneOfToAnyOf(node);
  for (const [, , op] of operations(doc)) {
    // An integer the request may carry never fit more than the server stores (PostgreSQL
    // `integer`): a larger one was a 500, not an accepted input. Read an unbounded one as bounded
    // there, so a maximum stated at that limit is no narrowing.
    const requestSchemas = [op.requestBody, ...(op.parameters ?? []).map((q) => q.schema)];
    for (const node of objectsBelow(requestSchemas)) {
      if (node.type === 'integer' && node.maximum === undefined) node.maximum = STORED_INTEGER_MAX;
    }
    for (const response of Object.values((op.responses ?? {}) as Record<string, Schema>)) {
      for (const node of objectsBelow(response.content)) {
        if (node.additionalProperties === false) delete node.additionalProperties;
      }
    }
  }
  return doc;
}

function parameterKey(p: Parameter): string {
  return `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
}

/** Operations that are equal on both sides have no differences: leave them out of the diff. */
function dropEqualOperations(a: Doc, b: Doc): void {
  for (const p of Object.keys(a.paths)) {
    if (!(p in b.paths)) continue;
    for (const m of methodsOf(a.paths[p])) {
      if (m in b.paths[p] && JSON.stringify(a.paths[p][m]) === JSON.stringify(b.paths[p][m])) {
        delete a.paths[p][m];
        delete b.paths[p][m];
      }
    }
    if (methodsOf(a.paths[p]).length === 0 && methodsOf(b.paths[p]).length === 0) {
      delete a.paths[p];
      delete b.paths[p];
    }
  }
}

export interface Change {
  /** `GET /api/v1/flows/{id}`, or the path alone when a whole path is removed. */
  where: string;
  what: string;
}

interface StandIn {
  where: string;
  parameter: string;
  before: Schema;
  after: Schema;
}

/**
 * Parameter changes openapi-diff does not see. Schemas that differ are handed to it as request bodies
 * of stand-in operations `/~parameter/<n>` (a parameter is request input: accepting less breaks).
 */
function compareParameters(
  a: Doc,
  b: Doc,
): { breaking: Change[]; compatible: Change[]; standIns: Map<string, StandIn> } {
  const breaking: Change[] = [];
  const compatible: Change[] = [];
  const standIns = new Map<string, StandIn>();
  for (const [p, m, before] of operations(a)) {
    const after = b.paths[p]?.[m] as Operation | undefined;
    if (!after) continue;
    const where = `${m.toUpperCase()} ${p}`;
    const afterByKey = new Map((after.parameters ?? []).map((q) => [parameterKey(q), q]));
    const beforeKeys = new Set((before.parameters ?? []).map(parameterKey));
    for (const old of before.parameters ?? []) {
      const now = afterByKey.get(parameterKey(old));
      const label = `parameter \`${old.name}\` (${old.in})`;
      if (!now) breaking.push({ where, what: `${label} removed` });
      else {
        if (!old.required && now.required) breaking.push({ where, what: `${label} is now required` });
        if (old.required && !now.required) compatible.push({ where, what: `${label} is no longer required` });
        if (JSON.stringify(old.schema) !== JSON.stringify(now.schema)) {
          standIns.set(`/~parameter/${standIns.size}`, {
            where,
            parameter: label,
            before: old.schema ?? {},
            after: now.schema ?? {},
          });
        }
      }
    }
    for (const q of after.parameters ?? []) {
      if (beforeKeys.has(parameterKey(q))) continue;
      if (q.required) breaking.push({ where, what: `required parameter \`${q.name}\` (${q.in}) added` });
      else compatible.push({ where, what: `optional parameter \`${q.name}\` (${q.in}) added` });
    }
  }
  for (const [p, s] of standIns) {
    const standIn = (schema: Schema) => ({
      post: {
        requestBody: { content: { 'application/json': { schema } } },
        responses: { '200': { description: 'stand-in' } },
      },
    });
    a.paths[p] = standIn(s.before);
    b.paths[p] = standIn(s.after);
  }
  return { breaking, compatible, standIns };
}

const fmt = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
const LEAF_KEYWORDS = [
  'type',
  'format',
  'enum',
  'nullable',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'additionalProperties',
];

/** A `oneOf`/`anyOf` branch by its one-value enum property (the discriminator), else by its position. */
function branchName(branch: Schema, i: number): string {
  for (const prop of Object.values((branch.properties ?? {}) as Record<string, Schema>)) {
    if (Array.isArray(prop.enum) && prop.enum.length === 1) return `(${String(prop.enum[0])})`;
  }
  return `(#${i + 1})`;
}

/** What changed between two schemas, field by field, to name it in the report (the verdict is openapi-diff's). */
function fieldChanges(before: unknown, after: unknown, at = ''): string[] {
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return [];
  const b = before as Schema;
  const a = after as Schema;
  const field = (name: string) => `\`${at}${name}\``;
  const out: string[] = [];
  const bp = (b.properties ?? {}) as Record<string, Schema>;
  const ap = (a.properties ?? {}) as Record<string, Schema>;
  const bReq = new Set((b.required ?? []) as string[]);
  const aReq = new Set((a.required ?? []) as string[]);
  for (const name of Object.keys(bp)) {
    if (!(name in ap)) out.push(`${field(name)} removed`);
    else {
      if (bReq.has(name) && !aReq.has(name)) out.push(`${field(name)} no longer required`);
      if (!bReq.has(name) && aReq.has(name)) out.push(`${field(name)} now required`);
      out.push(...fieldChanges(bp[name], ap[name], `${at}${name}.`));
    }
  }
  for (const name of Object.keys(ap)) {
    if (!(name in bp)) out.push(`${field(name)} added${aReq.has(name) ? ' as required' : ''}`);
  }
  const here = at.replace(/\.$/, '');
  out.push(...fieldChanges(b.items, a.items, `${here}[].`));
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const bb = (b[key] ?? []) as Schema[];
    const ab = (a[key] ?? []) as Schema[];
    if (bb.length !== ab.length) out.push(`${here ? `\`${here}\`: ` : ''}${key} ${bb.length} → ${ab.length} branches`);
    else bb.forEach((branch, i) => out.push(...fieldChanges(branch, ab[i], `${here}${branchName(branch, i)}.`)));
  }
  for (const key of LEAF_KEYWORDS) {
    if (key === 'additionalProperties' && (typeof b[key] === 'object' || typeof a[key] === 'object')) continue;
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) {
      out.push(`${here ? `\`${here}\`: ` : ''}${key} ${fmt(b[key])} → ${fmt(a[key])}`);
    }
  }
  return out;
}

type Difference = openapiDiff.DiffResult<openapiDiff.DiffResultType>;

const LOCATION = new RegExp(`^paths\\.(.+?)(?:\\.(${METHODS.join('|')})(?:\\.(.*))?)?$`);

function describe(d: Difference, a: Doc, b: Doc, standIns: Map<string, StandIn>): Change {
  const location = (d.sourceSpecEntityDetails[0] ?? d.destinationSpecEntityDetails[0])?.location ?? '';
  const [, p, m, rest = ''] = LOCATION.exec(location) ?? [];
  if (!p) return { where: location, what: d.code };
  const standIn = standIns.get(p);
  const where = standIn ? standIn.where : m ? `${m.toUpperCase()} ${p}` : p;
  const schemaAt = (doc: Doc): unknown => {
    const op = doc.paths[p]?.[m] as Schema | undefined;
    const body = /^requestBody\.content\.(.+)\.schema$/.exec(rest);
    if (body) return ((op?.requestBody as Schema)?.content as Record<string, Schema>)?.[body[1]]?.schema;
    const res = /^responses\.([^.]+)\.content\.(.+)\.schema$/.exec(rest);
    if (res)
      return ((op?.responses as Record<string, Schema>)?.[res[1]]?.content as Record<string, Schema>)?.[res[2]]?.schema;
    return undefined;
  };
  const fields = fieldChanges(schemaAt(a), schemaAt(b));
  const detail = fields.length > 0 ? `: ${fields.join('; ')}` : '';
  const status = /^responses\.([^.]+)/.exec(rest)?.[1];
  switch (d.code) {
    case 'path.remove':
      return { where, what: 'path removed' };
    case 'path.add':
      return { where, what: 'path added' };
    case 'method.remove':
      return { where, what: 'operation removed' };
    case 'method.add':
      return { where, what: 'operation added' };
    case 'request.body.scope.remove':
      return { where, what: `${standIn?.parameter ?? 'the request body'} accepts less than before${detail}` };
    case 'request.body.scope.add':
      return { where, what: `${standIn?.parameter ?? 'the request body'} accepts more than before${detail}` };
    case 'response.body.scope.add':
      return { where, what: `the ${status} response may hold what clients of the release do not expect${detail}` };
    case 'response.body.scope.remove':
      return { where, what: `the ${status} response is narrower than before${detail}` };
    case 'response.status-code.remove':
      return { where, what: `response ${status} removed` };
    case 'response.status-code.add':
      return { where, what: `response ${status} added` };
    default:
      return { where, what: `${d.code} at ${rest || location}` };
  }
}

export interface Comparison {
  releasedVersion: string;
  version: string;
  /** The current major is above the released one: breaking changes are allowed. */
  majorRaised: boolean;
  breaking: Change[];
  nonBreaking: Change[];
}

function majorOf(version: string, label: string): number {
  const m = /^(\d+)\.\d+\.\d+/.exec(version);
  if (!m) throw new Error(`info.version of the ${label} contract is not a semantic version: ${version}`);
  return Number(m[1]);
}

export async function compareContracts(released: Doc, current: Doc): Promise<Comparison> {
  const releasedMajor = majorOf(released.info.version, 'released');
  const major = majorOf(current.info.version, 'current');
  if (major < releasedMajor) {
    throw new Error(`info.version ${current.info.version} is below the released ${released.info.version}`);
  }
  const a = comparable(released);
  const b = comparable(current);
  dropEqualOperations(a, b);
  const params = compareParameters(a, b);
  const spec = (doc: Doc, location: string) => ({
    content: JSON.stringify(doc),
    location,
    format: 'openapi3' as const,
  });
  const result = await openapiDiff.diffSpecs({ sourceSpec: spec(a, 'released'), destinationSpec: spec(b, 'current') });
  const breaking = [
    ...params.breaking,
    ...(result.breakingDifferencesFound ? result.breakingDifferences : []).map((d) =>
      describe(d, a, b, params.standIns),
    ),
  ];
  const nonBreaking = [
    ...params.compatible,
    ...[...result.nonBreakingDifferences, ...result.unclassifiedDifferences].map((d) =>
      describe(d, a, b, params.standIns),
    ),
  ];
  return {
    releasedVersion: released.info.version,
    version: current.info.version,
    majorRaised: major > releasedMajor,
    breaking,
    nonBreaking,
  };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The current contract as one JSON document, bundled from openapi/ as `npm run generate` does. */
function bundleCurrent(): Doc {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-spec-'));
  try {
    const file = path.join(tmp, 'openapi.json');
    bundleSpec(file);
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Doc;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function release(): void {
  const doc = bundleCurrent();
  fs.mkdirSync(path.dirname(RELEASED_PATH), { recursive: true });
  fs.writeFileSync(RELEASED_PATH, JSON.stringify(doc, null, 2) + '\n');
  execFileSync(path.join(root, 'node_modules', '.bin', 'prettier'), ['--write', RELEASED_PATH], { stdio: 'ignore' });
  console.log(`openapi/released/openapi.json is now the contract ${doc.info.version}. Commit it.`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--release')) return release();
  const releasedFile = argValue('--released') ?? RELEASED_PATH;
  const specFile = argValue('--spec');
  const released = JSON.parse(fs.readFileSync(releasedFile, 'utf8')) as Doc;
  const current = specFile ? (JSON.parse(fs.readFileSync(specFile, 'utf8')) as Doc) : bundleCurrent();
  const c = await compareContracts(released, current);
  const releasedName = path.resolve(releasedFile).startsWith(root + path.sep)
    ? path.relative(root, releasedFile)
    : releasedFile;
  const list = (changes: Change[]) => changes.map((ch) => `  - ${ch.where}: ${ch.what}`).join('\n');
  if (c.breaking.length > 0 && !c.majorRaised) {
    console.error(`Breaking changes against the released contract ${c.releasedVersion} (${releasedName}):`);
    console.error(list(c.breaking));
    console.error(
      `Make the change compatible, or raise the major of info.version (now ${c.version}) in openapi/openapi.yaml ` +
        'for a release that breaks clients.',
    );
    process.exitCode = 1;
    return;
  }
  if (c.breaking.length > 0) {
    console.log(
      `info.version ${c.version} raises the major of the released ${c.releasedVersion}: these breaking changes are allowed:`,
    );
    console.log(list(c.breaking));
  } else {
    console.log(`No breaking changes against the released contract ${c.releasedVersion} (${releasedName}).`);
  }
  if (c.nonBreaking.length > 0) console.log(`Compatible changes:\n${list(c.nonBreaking)}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  });
}
