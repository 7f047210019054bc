/**
 * Parallel branches and foreach bodies are regions of a flow's graph. A branch is what its
 * parallel's edge reaches before the join; a body is what a foreach's `each` edge reaches. Save
 * validation refuses regions that leak (an edge into a branch or body from outside it, between
 * branches, or to a join from anywhere but its parallel's branches); the engine asks which branch
 * a node is in (the innermost) to know when a step arrives at a join or ends its branch.
 */

/** The part of a node this analysis reads (definition.ts's NodeDefinition has it). */
interface GraphNode {
  type: string;
  params?: Record<string, unknown>;
  next?: Record<string, string> | string;
}

interface Graph {
  nodes: Record<string, GraphNode>;
}

export interface BranchPlace {
  parallel: string;
  join: string;
  branch: string;
}

export interface Regions {
  /** The innermost branch of each node inside one. */
  branchOf: Map<string, BranchPlace>;
  /** Every node inside a branch of the parallel (nested ones too), by parallel id. */
  members: Map<string, Set<string>>;
  /** The body of each foreach that has one, by foreach id. */
  bodies: Map<string, Set<string>>;
}

export interface RegionProblem {
  node: string | null;
  path: string;
  message: string;
}

/** Node types that stop the execution as a whole (waits, child executions): not inside a branch. */
const NOT_IN_BRANCH = new Set(['approval', 'input', 'event', 'callback', 'subflow', 'foreach']);

const edges = (n: GraphNode | undefined): Record<string, string> =>
  typeof n?.next === 'string' ? { default: n.next } : ((n?.next as Record<string, string> | undefined) ?? {});
const has = (g: Graph, id: string) => typeof id === 'string' && Object.hasOwn(g.nodes, id);

/** The nodes reached from `start` without passing `stop`. */
function reach(g: Graph, start: string, stop?: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (id === stop || seen.has(id) || !has(g, id)) continue;
    seen.add(id);
    for (const t of Object.values(edges(g.nodes[id]))) queue.push(t);
  }
  return seen;
}

/** The number of branches a join needs to succeed, from its params and its parallel's branch count. */
export function joinNeeds(params: Record<string, unknown> | undefined, branches: number): number {
  const mode = params?.wait_for ?? 'all';
  if (mode === 'any') return 1;
  if (mode === 'n') return Number(params?.n ?? branches);
  return branches;
}

function analyse(g: Graph): { regions: Regions; problems: RegionProblem[] } {
  const problems: RegionProblem[] = [];
  const regions: Regions = { branchOf: new Map(), members: new Map(), bodies: new Map() };
  const ids = Object.keys(g.nodes);
  const into = new Map<string, { from: string; outcome: string }[]>();
  for (const from of ids)
    for (const [outcome, to] of Object.entries(edges(g.nodes[from]))) {
      if (!into.has(to)) into.set(to, []);
      into.get(to)!.push({ from, outcome });
    }
  /** Every edge into the region must come from inside it, or be the one edge that opens it. */
  const closed = (region: Set<string>, owner: string, opening: string, start: string, what: string) => {
    for (const m of region)
      for (const { from, outcome } of into.get(m) ?? []) {
        if (region.has(from) || (from === owner && outcome === opening && m === start)) continue;
        // Two branches of one parallel sharing a node: the edge inside the other branch says so.
        if (from === owner && g.nodes[owner].type === 'parallel' && outcome !== opening) continue;
        problems.push({
          node: from,
          path: `nodes.${from}.next.${outcome}`,
          message: `the edge from "${from}" to "${m}" enters ${what} from outside it; a branch or body is entered only by its own edge`,
        });
      }
  };
  const places: { place: BranchPlace; region: Set<string> }[] = [];
  const joinedBy = new Map<string, string>();
  for (const p of ids) {
    const node = g.nodes[p];
    if (node.type !== 'parallel') continue;
    const join = String(node.params?.join ?? '');
    if (!has(g, join) || g.nodes[join].type !== 'join') {
      problems.push({
        node: p,
        path: `nodes.${p}.params.join`,
        message: `join "${join}" is not a node of type join in this flow`,
      });
      continue;
    }
    if (joinedBy.has(join)) {
      problems.push({
        node: p,
        path: `nodes.${p}.params.join`,
        message: `join "${join}" already joins the branches of "${joinedBy.get(join)}"; each parallel has a join of its own`,
      });
      continue;
    }
    joinedBy.set(join, p);
    const branches = Object.entries(edges(node));
    if (branches.length === 0)
      problems.push({
        node: p,
        path: `nodes.${p}.next`,
        message: 'a parallel needs at least one branch (an edge per branch)',
      });
    const all = new Set<string>();
    for (const [branch, start] of branches) {
      if (branch === 'error') {
        problems.push({
          node: p,
          path: `nodes.${p}.next.error`,
          message:
            'a parallel\'s edges are its branches; "error" cannot name one (the join\'s error edge catches a failed group)',
        });
        continue;
      }
      if (start === join || !has(g, start)) continue;
      const region = reach(g, start, join);
      const what = `branch "${branch}" of "${p}"`;
      if (region.has(p))
        problems.push({ node: p, path: `nodes.${p}.next.${branch}`, message: `${what} leads back to "${p}"` });
      closed(region, p, branch, start, what);
      for (const m of region) {
        all.add(m);
        if (NOT_IN_BRANCH.has(g.nodes[m].type))
          problems.push({
            node: m,
            path: `nodes.${m}.type`,
            message: `${what} cannot hold a "${g.nodes[m].type}" node: it would stop the whole execution (put it before the parallel or after the join)`,
          });
      }
      places.push({ place: { parallel: p, join, branch }, region });
    }
    regions.members.set(p, all);
    const needs = joinNeeds(g.nodes[join].params, branches.length);
    if (needs > branches.length)
      problems.push({
        node: join,
        path: `nodes.${join}.params.n`,
        message: `join "${join}" waits for ${needs} branches, but "${p}" has ${branches.length}`,
      });
    for (const { from, outcome } of into.get(join) ?? []) {
      if (from === p || all.has(from)) continue;
      problems.push({
        node: from,
        path: `nodes.${from}.next.${outcome}`,
        message: `only the branches of "${p}" may lead to its join "${join}"; "${from}" is not in one`,
      });
    }
  }
  for (const j of ids)
    if (g.nodes[j].type === 'join' && !joinedBy.has(j))
      problems.push({
        node: j,
        path: `nodes.${j}`,
        message: `join "${j}" is the join of no parallel (set a parallel's params.join)`,
      });
  // The innermost branch of a node is the smallest region that holds it (valid regions nest).
  for (const { place, region } of places.sort((a, b) => b.region.size - a.region.size))
    for (const m of region) regions.branchOf.set(m, place);

  for (const f of ids) {
    const node = g.nodes[f];
    if (node.type !== 'foreach') continue;
    const each = edges(node).each;
    const subflow = node.params?.flow_id !== undefined;
    if ((each === undefined) === !subflow) {
      problems.push({
        node: f,
        path: `nodes.${f}`,
        message:
          'a foreach runs either the nodes its `each` edge leads to or a subflow (`params.flow_id`): name exactly one',
      });
      continue;
    }
    if (each === undefined || !has(g, each)) continue;
    const body = reach(g, each);
    if (body.has(f)) {
      problems.push({ node: f, path: `nodes.${f}.next.each`, message: `the body of "${f}" leads back to "${f}"` });
      continue;
    }
    closed(body, f, 'each', each, `the body of foreach "${f}"`);
    regions.bodies.set(f, body);
  }
  return { regions, problems };
}

/** Problems of the flow's parallel branches and foreach bodies, for save validation. */
export function regionProblems(g: Graph): RegionProblem[] {
  return analyse(g).problems;
}

const cache = new WeakMap<object, Regions>();

/** The regions of a (valid, pinned) definition; computed once per parsed document. */
export function regionsOf(g: Graph): Regions {
  let regions = cache.get(g);
  if (!regions) {
    regions = analyse(g).regions;
    cache.set(g, regions);
  }
  return regions;
}
