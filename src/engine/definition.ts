/**
 * Parses and validates a flow definition. Every problem is reported at once, each with the node,
 * the path and a message (and line/column where the YAML says). A definition that passes can run.
 */
import crypto from 'node:crypto';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Document, type Scalar } from 'yaml';
import { unstorableTextReason } from '../errors';
import { parseProblem, stringsIn, templatesIn } from './expressions';
import { NODE_TYPES, nodeType } from './nodes';
import {
  CONCURRENCY_SCHEMA,
  limitKeyProblems,
  RATE_LIMIT_SCHEMA,
  type ConcurrencyPolicy,
  type RateLimitPolicy,
} from './limits';
import { regionProblems } from './regions';
import { schemaProblems } from './user-schemas';

export const MAX_DEFINITION_BYTES = 256 * 1024;
export const MAX_NODES = 500;
/** A definition may use this many aliases (`*a`) in all; more is refused (alias bombs). */
export const MAX_ALIAS_COUNT = 50;
/** How deep a definition may nest (mappings and sequences). */
export const MAX_DEFINITION_DEPTH = 32;
const NODE_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Names every object already answers to (`__proto__`, `constructor`, `toString`…): never node ids. */
const RESERVED_IDS = new Set(['__proto__', ...Object.getOwnPropertyNames(Object.prototype)]);

/** The first key or string that cannot be stored, or nesting beyond the limit (walked without recursion). */
function unstorableIn(raw: unknown): { path: string; message: string } | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: raw, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const reason = unstorableTextReason(value);
      if (reason) return { path, message: `a string ${reason}` };
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_DEFINITION_DEPTH) return { path, message: `nests deeper than ${MAX_DEFINITION_DEPTH} levels` };
      for (const [key, child] of Object.entries(value)) {
        const reason = unstorableTextReason(key);
        if (reason) return { path, message: `a key ${reason}` };
        stack.push({ value: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export interface DefinitionProblem {
  node: string | null;
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export interface RetryPolicy {
  max_attempts?: number;
  backoff_ms?: number;
  backoff_multiplier?: number;
  max_backoff_ms?: number;
}

export interface NodeDefinition {
  type: string;
  params?: Record<string, unknown>;
  next?: Record<string, string>;
  retry?: RetryPolicy;
  timeout_ms?: number;
  /** Calls of this node at most so many a second per key (limits.ts). */
  rate_limit?: RateLimitPolicy;
}

export interface FlowDocument {
  metadata?: { name?: string; description?: string; version?: string };
  inputs?: Record<string, unknown>;
  /** JSON Schema of the execution's result, checked when it completes (issue 15). */
  outputs?: Record<string, unknown>;
  entry?: string;
  output?: unknown;
  approval?: { required?: boolean; approvers?: string[]; no_self_approval?: boolean };
  /** 000's navigation: places a waiting execution may be moved to. */
  navigation?: { label: string; node: string }[];
  /** At most `limit` executions at once per key (limits.ts, concurrency.ts). */
  concurrency?: ConcurrencyPolicy;
  nodes: Record<string, NodeDefinition>;
}

/** How many nodes a definition has (an execution's `progress.nodes_total`). */
export function nodeCount(document: Pick<FlowDocument, 'nodes'>): number {
  return Object.keys(document.nodes ?? {}).length;
}

export type ParsedDefinition =
  { ok: true; document: FlowDocument; entry: string; hash: string } | { ok: false; problems: DefinitionProblem[] };

/** For our own schemas (the document, node params); flows' schemas are user-schemas.ts's. */
export const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
addFormats(ajv);

/** The shape of the document; node params are checked against each node type's own schema. */
const DOCUMENT_SCHEMA = {
  type: 'object',
  required: ['nodes'],
  additionalProperties: false,
  properties: {
    metadata: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        version: { type: ['string', 'number'] },
      },
    },
    inputs: { type: 'object', description: 'JSON Schema of the execution input' },
    outputs: { type: 'object', description: 'JSON Schema of the execution result' },
    entry: { type: 'string' },
    output: {},
    approval: {
      type: 'object',
      additionalProperties: false,
      properties: {
        required: { type: 'boolean' },
        approvers: { type: 'array', items: { type: 'string' } },
        no_self_approval: { type: 'boolean' },
      },
    },
    concurrency: CONCURRENCY_SCHEMA,
    navigation: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        required: ['label', 'node'],
        additionalProperties: false,
        properties: {
          label: { type: 'string', minLength: 1, maxLength: 200 },
          node: { type: 'string', minLength: 1 },
        },
      },
    },
    nodes: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        required: ['type'],
        additionalProperties: false,
        properties: {
          type: { type: 'string' },
          params: { type: 'object' },
          next: { oneOf: [{ type: 'string' }, { type: 'object', additionalProperties: { type: 'string' } }] },
          retry: {
            type: 'object',
            additionalProperties: false,
            properties: {
              max_attempts: { type: 'integer', minimum: 1, maximum: 100 },
              backoff_ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
              backoff_multiplier: { type: 'number', minimum: 1, maximum: 10 },
              max_backoff_ms: { type: 'integer', minimum: 0, maximum: 86_400_000 },
            },
          },
          timeout_ms: { type: 'integer', minimum: 1, maximum: 86_400_000 },
          rate_limit: RATE_LIMIT_SCHEMA,
        },
      },
    },
  },
};

const validateDocument = ajv.compile(DOCUMENT_SCHEMA);
const paramValidators = new Map<string, ValidateFunction>(NODE_TYPES.map((t) => [t.type, ajv.compile(t.paramsSchema)]));

export function definitionHash(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function dotted(instancePath: string): string {
  return instancePath.replace(/^\//, '').replace(/\//g, '.');
}

function valueAt(root: unknown, dottedPath: string): unknown {
  return dottedPath
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), root);
}

/** Line and column of the deepest key of a path found in the YAML source. */
function locate(doc: Document, lines: LineCounter, path: string[]): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) break;
      offset = (pair.key as Scalar).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as { range?: [number, number, number] } | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  if (offset === undefined) return {};
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** Normalises `next: end` to `next: {default: end}`. */
export function edgesOf(node: NodeDefinition): Record<string, string> {
  const next = node.next as unknown;
  if (typeof next === 'string') return { default: next };
  return (next as Record<string, string> | undefined) ?? {};
}

/** A node of the flow by id: own properties only, so `constructor` is no node. */
export function nodeOf(document: FlowDocument, id: string): NodeDefinition | undefined {
  return Object.hasOwn(document.nodes, id) ? document.nodes[id] : undefined;
}

/** The target of a node's edge for an outcome: own properties only, so `toString` is no edge. */
export function edgeFor(node: NodeDefinition, outcome: string): string | undefined {
  const edges = edgesOf(node);
  return Object.hasOwn(edges, outcome) ? edges[outcome] : undefined;
}

/** The fields of a node, as they appear when written one indent too little (004's own examples). */
const NODE_FIELDS = new Set(['type', 'params', 'next', 'retry', 'timeout_ms']);

/**
 * Nodes whose fields were indented level with the node id instead of under it (`start:` then
 * `type:` at the same column): the node id is then an empty key and its fields siblings of it.
 * One problem per such node, saying how to fix it, with the line of the node id.
 */
const isEmpty = (value: unknown) => value === null || (isScalar(value) && value.value === null);

function misindentedNodes(doc: Document, lines: LineCounter): DefinitionProblem[] {
  if (!isMap(doc.contents)) return [];
  const nodes = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'nodes')?.value;
  if (!isMap(nodes)) return [];
  const problems: DefinitionProblem[] = [];
  const items = nodes.items;
  for (let i = 0; i < items.length; i++) {
    const key = items[i].key;
    const value = items[i].value;
    if (!isScalar(key) || NODE_FIELDS.has(String(key.value))) continue;
    if (!isEmpty(value)) continue;
    const fields: string[] = [];
    // Up to the next node id (an empty key that is no field); params' own keys sit between.
    for (let j = i + 1; j < items.length; j++) {
      const k = items[j].key;
      if (!isScalar(k)) break;
      const name = String(k.value);
      if (NODE_FIELDS.has(name)) fields.push(name);
      else if (isEmpty(items[j].value)) break;
    }
    if (fields.length === 0) continue;
    const id = String(key.value);
    const pos = key.range ? lines.linePos(key.range[0]) : undefined;
    const list = fields.map((f) => `\`${f}\``).join(', ');
    problems.push({
      node: id,
      path: `nodes.${id}`,
      message:
        `node \`${id}\`${pos ? ` (line ${pos.line})` : ''} has no fields: ${list} stand level with it. ` +
        `Indent ${list} under their node id (deeper than \`${id}:\`); the same for the keys of \`params\` and \`next\`, one level deeper again`,
      line: pos?.line,
      column: pos?.col,
    });
  }
  return problems;
}

/**
 * A definition sent as a JSON object (so JSON clients are not whitespace-sensitive) as the YAML
 * text that is stored and shown; a string is the YAML itself.
 */
export function definitionText(definition: string | Record<string, unknown>): string {
  return typeof definition === 'string' ? definition : stringify(definition);
}

export function parseDefinition(text: string): ParsedDefinition {
  const problems: DefinitionProblem[] = [];
  if (Buffer.byteLength(text) > MAX_DEFINITION_BYTES) {
    return {
      ok: false,
      problems: [{ node: null, path: '', message: `the definition is larger than ${MAX_DEFINITION_BYTES / 1024} KiB` }],
    };
  }
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  } catch {
    // The composer recurses once per level of flow nesting (`[[[[…`): too deep overflows the stack.
    return {
      ok: false,
      problems: [{ node: null, path: '', message: `YAML: nests deeper than ${MAX_DEFINITION_DEPTH} levels` }],
    };
  }
  const misindented = misindentedNodes(doc, lines);
  if (misindented.length > 0) return { ok: false, problems: misindented };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          node: null,
          path: '',
          message: `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
          line: pos?.line,
          column: pos?.col,
        };
      }),
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch {
    // `yaml` throws once aliases expand beyond the count (an alias bomb).
    return {
      ok: false,
      problems: [{ node: null, path: '', message: `YAML: more than ${MAX_ALIAS_COUNT} aliases` }],
    };
  }
  const unstorable = unstorableIn(raw);
  if (unstorable) return { ok: false, problems: [{ node: null, ...unstorable }] };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !isMap(doc.contents)) {
    return {
      ok: false,
      problems: [{ node: null, path: '', message: 'the definition must be a YAML mapping with a `nodes` key' }],
    };
  }
  const at = (path: string[]) => locate(doc, lines, path);

  if (!validateDocument(raw)) {
    for (const e of validateDocument.errors ?? []) {
      if (e.keyword === 'oneOf' || (e.instancePath.match(/\/next$/) && e.keyword === 'type')) {
        if (e.keyword === 'oneOf') {
          const p = dotted(e.instancePath);
          problems.push({
            node: p.split('.')[1] ?? null,
            path: p,
            message: 'must be a node id or a mapping of outcome to node id',
            ...at(p.split('.')),
          });
        }
        continue;
      }
      const extra =
        e.keyword === 'additionalProperties'
          ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
          : '';
      const p = dotted(e.instancePath);
      const node = p.startsWith('nodes.') ? p.split('.')[1] : null;
      problems.push({ node, path: p, message: `${e.message}${extra}`, ...at(p.split('.')) });
    }
    return { ok: false, problems };
  }
  const document = raw as unknown as FlowDocument;
  const ids = Object.keys(document.nodes);
  if (ids.length > MAX_NODES) {
    return {
      ok: false,
      problems: [
        {
          node: null,
          path: 'nodes',
          message: `a flow may have at most ${MAX_NODES} nodes, this one has ${ids.length}`,
        },
      ],
    };
  }

  for (const id of ids) {
    const node = document.nodes[id];
    const here = (p: string) => ({
      node: id,
      path: `nodes.${id}${p ? '.' + p : ''}`,
      ...at(['nodes', id, ...p.split('.').filter(Boolean)]),
    });
    if (!NODE_ID.test(id))
      problems.push({
        ...here(''),
        message: 'node ids are letters, digits and _ (starting with a letter or _), at most 64',
      });
    else if (RESERVED_IDS.has(id))
      problems.push({ ...here(''), message: `"${id}" is a reserved name and cannot be a node id` });
    for (const [outcome, target] of Object.entries(edgesOf(node))) {
      if (!nodeOf(document, target) || RESERVED_IDS.has(target))
        problems.push({ ...here(`next.${outcome}`), message: `next target "${target}" is not a node of this flow` });
    }
    const module = nodeType(node.type);
    if (!module) {
      problems.push({
        ...here('type'),
        message: `unknown node type "${node.type}"; known types: ${NODE_TYPES.map((t) => t.type).join(', ')}`,
      });
      continue;
    }
    const params = node.params ?? {};
    const validate = paramValidators.get(module.type)!;
    if (!validate(params)) {
      for (const e of validate.errors ?? []) {
        const p = dotted(e.instancePath);
        // A template may stand where a number or list goes; its value is checked at run time.
        if (p && typeof valueAt(params, p) === 'string' && (valueAt(params, p) as string).includes('{{')) continue;
        if (
          e.keyword === 'if' ||
          (e.keyword === 'oneOf' &&
            p &&
            typeof valueAt(params, p) === 'string' &&
            (valueAt(params, p) as string).includes('{{'))
        )
          continue;
        const extra =
          e.keyword === 'additionalProperties'
            ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
            : '';
        problems.push({ ...here(`params${p ? '.' + p : ''}`), message: `${e.message}${extra}` });
      }
    }
    const allowed = new Set(['default', 'error', ...(module.outcomes?.(params) ?? [])]);
    for (const outcome of Object.keys(edgesOf(node))) {
      if (!allowed.has(outcome) && !module.anyOutcome)
        problems.push({
          ...here(`next.${outcome}`),
          message: `"${module.type}" has no outcome "${outcome}"; use one of ${[...allowed].join(', ')}`,
        });
    }
    for (const { path, value } of stringsIn(params, 'params')) {
      for (const expression of templatesIn(value)) {
        const problem = parseProblem(expression);
        if (problem)
          problems.push({
            ...here(path),
            message: `expression {{ ${expression} }} does not parse: ${problem.message}`,
          });
      }
    }
    for (const { path, expression } of module.expressions?.(params) ?? []) {
      const problem = parseProblem(expression);
      if (problem)
        problems.push({ ...here(`params.${path}`), message: `expression does not parse: ${problem.message}` });
    }
    for (const { path, schema } of module.schemas?.(params) ?? []) {
      for (const problem of schemaProblems(schema, `params.${path}`)) {
        problems.push({ ...here(problem.path), message: problem.message });
      }
    }
  }

  for (const { path, value } of stringsIn(document.output ?? null, 'output')) {
    for (const expression of templatesIn(value)) {
      const problem = parseProblem(expression);
      if (problem)
        problems.push({
          node: null,
          path,
          message: `expression {{ ${expression} }} does not parse: ${problem.message}`,
          ...at(path.split('.')),
        });
    }
  }
  if (document.inputs !== undefined) {
    for (const problem of schemaProblems(document.inputs, 'inputs')) {
      problems.push({ node: null, ...problem, ...at(problem.path.split('.')) });
    }
  }
  if (document.outputs !== undefined) {
    for (const problem of schemaProblems(document.outputs, 'outputs')) {
      problems.push({ node: null, ...problem, ...at(problem.path.split('.')) });
    }
  }

  (document.navigation ?? []).forEach((item, i) => {
    if (!nodeOf(document, item.node) || RESERVED_IDS.has(item.node))
      problems.push({
        node: null,
        path: `navigation.${i}.node`,
        message: `navigation target "${item.node}" is not a node of this flow`,
        ...at(['navigation', String(i), 'node']),
      });
  });
  for (const problem of limitKeyProblems(document.concurrency, document.nodes))
    problems.push({ ...problem, ...at(problem.path.split('.')) });
  const entry = findEntry(document, problems, at);
  if (entry) {
    checkReachability(document, entry, problems, at);
    checkLoops(document, problems);
  }
  if (problems.length === 0)
    for (const problem of regionProblems(document)) problems.push({ ...problem, ...at(problem.path.split('.')) });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, document, entry: entry!, hash: definitionHash(text) };
}

function findEntry(
  document: FlowDocument,
  problems: DefinitionProblem[],
  at: (p: string[]) => object,
): string | undefined {
  const ids = Object.keys(document.nodes);
  if (document.entry !== undefined) {
    if (nodeOf(document, document.entry) && !RESERVED_IDS.has(document.entry)) return document.entry;
    problems.push({
      node: null,
      path: 'entry',
      message: `entry "${document.entry}" is not a node of this flow`,
      ...at(['entry']),
    });
    return undefined;
  }
  if (nodeOf(document, 'start')) return 'start';
  const targets = new Set(ids.flatMap((id) => Object.values(edgesOf(document.nodes[id]))));
  const roots = ids.filter((id) => !targets.has(id));
  if (roots.length === 1) return roots[0];
  problems.push({
    node: null,
    path: 'entry',
    message:
      roots.length === 0
        ? 'no entry: name one with `entry:` (every node is the target of an edge)'
        : `no entry: name one with \`entry:\` or call a node "start" (candidates: ${roots.join(', ')})`,
  });
  return undefined;
}

function checkReachability(
  document: FlowDocument,
  entry: string,
  problems: DefinitionProblem[],
  at: (p: string[]) => object,
): void {
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const target of Object.values(edgesOf(document.nodes[id]))) {
      if (nodeOf(document, target) && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  for (const id of Object.keys(document.nodes)) {
    if (!seen.has(id))
      problems.push({
        node: id,
        path: `nodes.${id}`,
        message: `node "${id}" is unreachable from the entry "${entry}"`,
        ...at(['nodes', id]),
      });
  }
}

/** Strongly connected components (Tarjan); a cycle with no branching or waiting node loops forever. */
function checkLoops(document: FlowDocument, problems: DefinitionProblem[]): void {
  const ids = Object.keys(document.nodes);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  let counter = 0;
  const successors = (id: string) => Object.values(edgesOf(document.nodes[id])).filter((t) => nodeOf(document, t));
  const strong = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of successors(v)) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const isCycle = component.length > 1 || successors(v).includes(v);
      const breaks = component.some((id) => nodeType(document.nodes[id].type)?.breaksCycles);
      if (isCycle && !breaks) {
        const names = component.reverse();
        problems.push({
          node: names[0],
          path: `nodes.${names[0]}`,
          message: `the cycle ${[...names, names[0]].join(' → ')} has no condition or wait on it: it would loop forever`,
        });
      }
    }
  };
  for (const id of ids) if (!index.has(id)) strong(id);
}
