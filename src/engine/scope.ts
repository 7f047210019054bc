/**
 * Which nodes' outputs an expression can read. The scope crosses to the expression sandbox as a
 * copy on every job, and `nodes` is what grows (every node's output so far), so a job takes only
 * the outputs its expressions name: `nodes.fetch.output` names `fetch`. Anything that could reach
 * an output without naming it — `nodes` used as a value (`$keys(nodes)`, `nodes.*`, `nodes[…]`),
 * `$` or `$$`, `*`, `**`, `%`, `$eval` — takes them all. Naming too many is harmless; this errs
 * only that way.
 */
import jsonata from 'jsonata';

export type NodeRefs = ReadonlySet<string> | 'all';

const REACHES_ANYTHING = new Set(['wildcard', 'descendant', 'parent']);
/** `$` (the context) and `$$` (the root) as JSONata's parser names them, and `$eval`. */
const ROOT_VARIABLES = new Set(['', '$', 'eval']);
/** What a name step may carry and still be a plain name. */
const PLAIN_STEP_KEYS = new Set(['type', 'value', 'position']);

const analysed = new Map<string, NodeRefs>();

function refsOf(expression: string): NodeRefs {
  let ast: unknown;
  try {
    ast = jsonata(expression).ast();
  } catch {
    return 'all';
  }
  const named = new Set<string>();
  const seenNodes = new Set<object>();
  const handled = new Set<object>();
  let all = false;
  const visit = (n: unknown, seen: Set<unknown>): void => {
    if (all || !n || typeof n !== 'object' || seen.has(n)) return;
    seen.add(n);
    const node = n as { type?: unknown; value?: unknown; steps?: unknown };
    if (typeof node.type === 'string') {
      if (REACHES_ANYTHING.has(node.type)) all = true;
      if (node.type === 'variable' && ROOT_VARIABLES.has(String(node.value))) all = true;
      if (node.type === 'name' && node.value === 'nodes') seenNodes.add(n);
      if (node.type === 'path' && Array.isArray(node.steps)) {
        const steps = node.steps as { type?: unknown; value?: unknown }[];
        steps.forEach((step, i) => {
          if (step?.type !== 'name' || step.value !== 'nodes') return;
          const next = steps[i + 1];
          const plain = Object.keys(step).every((k) => PLAIN_STEP_KEYS.has(k));
          if (plain && next?.type === 'name' && typeof next.value === 'string') {
            named.add(next.value);
            handled.add(step);
          }
        });
      }
    }
    for (const v of Object.values(n)) visit(v, seen);
  };
  visit(ast, new Set());
  if (all || [...seenNodes].some((n) => !handled.has(n))) return 'all';
  return named;
}

/** The node ids the expressions can read, or 'all'. */
export function nodesReferenced(expressions: string[]): NodeRefs {
  const out = new Set<string>();
  for (const e of expressions) {
    let refs = analysed.get(e);
    if (!refs) {
      refs = refsOf(e);
      if (analysed.size > 10_000) analysed.clear();
      analysed.set(e, refs);
    }
    if (refs === 'all') return 'all';
    for (const id of refs) out.add(id);
  }
  return out;
}

/** The scope with only the node outputs the expressions can read (own properties only: ids are data). */
export function scopeFor(scope: unknown, expressions: string[]): unknown {
  const s = scope as { nodes?: unknown } | null;
  if (!s || typeof s !== 'object' || !s.nodes || typeof s.nodes !== 'object') return scope;
  const refs = nodesReferenced(expressions);
  if (refs === 'all') return scope;
  const nodes = s.nodes as Record<string, unknown>;
  const kept = [...refs].filter((id) => Object.hasOwn(nodes, id)).map((id) => [id, nodes[id]]);
  return { ...s, nodes: Object.fromEntries(kept) };
}
