/**
 * Where the server process's CPU goes: a V8 CPU profile (node:inspector) grouped by package, and
 * the CPU of its child processes (the expression sandbox) from /proc, which no profile of the
 * parent sees.
 */
import fs from 'node:fs';
import type { Profiler, Runtime } from 'node:inspector';

/**
 * A sample goes to the innermost frame of one of these packages or of src/. Frames of other
 * packages (path-to-regexp, tarn, jws, …) and of Node itself (socket writes, streams) go to the
 * caller that asked for them, so path-to-regexp counts for the validator when the validator called
 * it; only when no caller is one of these does the package's own default below decide.
 */
const PRIMARY: Record<string, string> = {
  pg: 'pg',
  'pg-protocol': 'pg',
  'pg-pool': 'pg',
  knex: 'knex',
  express: 'express',
  router: 'express',
  'express-openapi-validator': 'express-openapi-validator',
  jsonwebtoken: 'jsonwebtoken',
  ajv: 'ajv',
};
const DEFAULT: Record<string, string> = {
  'pg-types': 'pg',
  'postgres-array': 'pg',
  'postgres-date': 'pg',
  'postgres-interval': 'pg',
  'pg-connection-string': 'pg',
  tarn: 'knex',
  'body-parser': 'express',
  'raw-body': 'express',
  finalhandler: 'express',
  'path-to-regexp': 'express',
  parseurl: 'express',
  qs: 'express',
  'type-is': 'express',
  accepts: 'express',
  'content-type': 'express',
  'on-finished': 'express',
  jws: 'jsonwebtoken',
  jwa: 'jsonwebtoken',
  'ajv-formats': 'ajv',
  'fast-uri': 'ajv',
  'json-schema-traverse': 'ajv',
};

const SRC_OTHER = 'src (services, repositories, db, …)';
/** The bench harness's own frames (statement counter, profiler): counted apart from the product's. */
const HARNESS = '(bench harness)';

const BUCKETS = [
  'pg',
  'knex',
  'express',
  'express-openapi-validator',
  'jsonwebtoken',
  'ajv',
  'GC',
  'src/engine',
  'src/http',
  SRC_OTHER,
  'sandbox child',
  'other',
] as const;

function packageOf(url: string): string | undefined {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm < 0) return undefined;
  const parts = url.slice(nm + '/node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function primaryOf(url: string): string | undefined {
  const pkg = packageOf(url);
  if (pkg !== undefined) return PRIMARY[pkg];
  if (url.includes('/scripts/bench/')) return HARNESS;
  if (url.includes('/src/engine/')) return 'src/engine';
  if (url.includes('/src/http/')) return 'src/http';
  if (url.includes('/src/')) return SRC_OTHER;
  return undefined;
}

/** What an "other" sample is, for the line that opens that bucket up. */
function labelOf(frames: Runtime.CallFrame[]): string {
  for (const f of frames) {
    const pkg = packageOf(f.url);
    if (pkg) return pkg;
    if (f.url.startsWith('node:')) return f.url.replace(/^node:(internal\/)?/, 'node:');
  }
  return frames[0]?.functionName || '(unknown)';
}

export interface Buckets {
  /** Milliseconds of the profiled thread's CPU per bucket (idle and the harness left out). */
  totals: Map<string, number>;
  /** What "other" is made of, in ms, by package or Node module. */
  other: Map<string, number>;
  /** The bench harness's own frames: the statement counter, the profiler's start and stop. */
  harness: number;
}

export function bucketsOf(profile: Profiler.Profile): Buckets {
  const parent = new Map<number, number>();
  const byId = new Map<number, Profiler.ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const memo = new Map<number, string | undefined>();
  /** The innermost primary bucket on the stack from this frame out; undefined when there is none. */
  const primary = (id: number | undefined): string | undefined => {
    if (id === undefined) return undefined;
    if (memo.has(id)) return memo.get(id);
    const found = primaryOf(byId.get(id)!.callFrame.url) ?? primary(parent.get(id));
    memo.set(id, found);
    return found;
  };
  const frames = (id: number | undefined) => {
    const out: Runtime.CallFrame[] = [];
    for (; id !== undefined; id = parent.get(id)) out.push(byId.get(id)!.callFrame);
    return out;
  };
  const bucketOf = (id: number): string => {
    const fn = byId.get(id)!.callFrame.functionName;
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)') return '(idle)';
    const found = primary(id);
    if (found) return found;
    const pkg = frames(id)
      .map((f) => packageOf(f.url))
      .find((p) => p !== undefined);
    return (pkg && DEFAULT[pkg]) ?? 'other';
  };
  const totals = new Map<string, number>();
  const other = new Map<string, number>();
  let harness = 0;
  const deltas = profile.timeDeltas ?? [];
  profile.samples?.forEach((id, i) => {
    const bucket = bucketOf(id);
    const msec = (deltas[i] ?? 0) / 1000;
    if (bucket === '(idle)') return;
    if (bucket === HARNESS) {
      harness += msec;
      return;
    }
    totals.set(bucket, (totals.get(bucket) ?? 0) + msec);
    if (bucket === 'other') {
      const label = labelOf(frames(id));
      other.set(label, (other.get(label) ?? 0) + msec);
    }
  });
  return { totals, other, harness };
}

/** CPU milliseconds (user + system) of each child process of `pid`, from /proc; empty off Linux. */
export function childrenCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // Fields after the command name, which may hold spaces: state ppid … utime(12) stime(13).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) !== pid) continue;
      out.set(Number(e), ((Number(rest[11]) + Number(rest[12])) * 1000) / 100); // USER_HZ is 100 on Linux
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** CPU used by children between two snapshots (children that appeared count from zero). */
export function childrenCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, cpu] of after) sum += cpu - (before.get(pid) ?? 0);
  return sum;
}

/**
 * CPU milliseconds per bucket. Samples are wall time while the thread was not idle, which on a
 * busy machine includes time the thread waited for a core; so the profile gives the shares, and
 * the process's measured CPU time (`processCpuMs`) the amount, less the harness's own share. The
 * sandbox's children come from /proc.
 */
export function cpuByBucket(
  buckets: Buckets,
  processCpuMs: number,
  sandboxMs: number,
): { cpu: Map<string, number>; other: Map<string, number> } {
  const sampled = [...buckets.totals.values()].reduce((a, b) => a + b, buckets.harness);
  const scale = sampled > 0 ? processCpuMs / sampled : 0;
  const cpu = new Map<string, number>(BUCKETS.map((name) => [name, 0]));
  for (const [name, msec] of buckets.totals) cpu.set(name, msec * scale);
  cpu.set('sandbox child', sandboxMs);
  const other = new Map([...buckets.other].map(([name, msec]) => [name, msec * scale]));
  return { cpu, other };
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const byCost = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);

/** The report lines: each bucket's CPU, its share, and its cost per execution. */
export function profileLines({ cpu, other }: ReturnType<typeof cpuByBucket>, executions: number): string[] {
  const total = sum(cpu);
  const per = (msec: number) => `${((1000 * msec) / Math.max(1, executions)).toFixed(0).padStart(6)} µs/execution`;
  return [
    `    ${'total'.padEnd(36)} ${total.toFixed(0).padStart(7)} ms CPU          ${per(total)}`,
    ...byCost(cpu).map(
      ([name, msec]) =>
        `    ${name.padEnd(36)} ${msec.toFixed(0).padStart(7)} ms CPU  ${((100 * msec) / total).toFixed(1).padStart(5)} %  ${per(msec)}`,
    ),
    `    other, by package or Node module: ${byCost(other)
      .slice(0, 6)
      .map(([name, msec]) => `${name} ${((100 * msec) / total).toFixed(1)} %`)
      .join(', ')}`,
  ];
}

/** The largest buckets in one line, for the summary table. */
export function profileTop({ cpu }: ReturnType<typeof cpuByBucket>, count = 5): string {
  const total = sum(cpu);
  return byCost(cpu)
    .slice(0, count)
    .map(([name, msec]) => `${name} ${((100 * msec) / total).toFixed(0)} %`)
    .join(', ');
}
