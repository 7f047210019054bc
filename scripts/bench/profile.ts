/**
 * Where the server process's CPU goes: a V8 CPU profile (node:inspector) grouped by package, and
 * the CPU of its child processes (the expression sandbox) from /proc, which no profile of the
 * parent sees.
 */
import fs from 'node:fs';
import type { Profiler } from 'node:inspector';

/** A sample goes to the innermost frame that belongs to one of these; Node's own frames (socket writes, streams) go to the caller that asked for them. */
const PACKAGES: Record<string, string> = {
  pg: 'pg',
  'pg-protocol': 'pg',
  'pg-pool': 'pg',
  'pg-types': 'pg',
  'postgres-array': 'pg',
  'postgres-date': 'pg',
  'postgres-interval': 'pg',
  'postgres-bytea': 'pg',
  knex: 'knex',
  tarn: 'knex',
  express: 'express',
  router: 'express',
  'body-parser': 'express',
  'raw-body': 'express',
  finalhandler: 'express',
  'path-to-regexp': 'express',
  qs: 'express',
  'type-is': 'express',
  accepts: 'express',
  'content-type': 'express',
  'on-finished': 'express',
  'express-openapi-validator': 'express-openapi-validator',
  jsonwebtoken: 'jsonwebtoken',
  jws: 'jsonwebtoken',
  jwa: 'jsonwebtoken',
  ajv: 'ajv',
  'ajv-formats': 'ajv',
  'fast-uri': 'ajv',
};

export const BUCKETS = [
  'pg',
  'knex',
  'express',
  'express-openapi-validator',
  'jsonwebtoken',
  'ajv',
  'GC',
  'src/engine',
  'src/http',
  'src (services, repositories, db, …)',
  'sandbox child',
  'other',
] as const;

function bucketOf(url: string): string | undefined {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    return PACKAGES[name] ?? 'other';
  }
  if (url.includes('/src/engine/')) return 'src/engine';
  if (url.includes('/src/http/')) return 'src/http';
  if (url.includes('/src/')) return 'src (services, repositories, db, …)';
  return undefined; // node:internal, V8 builtins, compiled code without a script: its caller decides
}

/** Milliseconds of the profiled thread's CPU per bucket (idle left out). */
export function bucketsOf(profile: Profiler.Profile): Map<string, number> {
  const parent = new Map<number, number>();
  const byId = new Map<number, Profiler.ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const memo = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = memo.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    const fn = node.callFrame.functionName;
    let bucket: string;
    if (fn === '(garbage collector)') bucket = 'GC';
    else if (fn === '(idle)') bucket = '(idle)';
    else bucket = bucketOf(node.callFrame.url) ?? (parent.has(id) ? resolve(parent.get(id)!) : 'other');
    memo.set(id, bucket);
    return bucket;
  };
  const totals = new Map<string, number>();
  const deltas = profile.timeDeltas ?? [];
  profile.samples?.forEach((id, i) => {
    const bucket = resolve(id);
    if (bucket !== '(idle)') totals.set(bucket, (totals.get(bucket) ?? 0) + (deltas[i] ?? 0) / 1000);
  });
  return totals;
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

/** The report lines: each bucket's CPU, its share, and its cost per execution. */
export function profileLines(buckets: Map<string, number>, sandboxMs: number, executions: number): string[] {
  const all = new Map(buckets);
  all.set('sandbox child', sandboxMs);
  const total = [...all.values()].reduce((a, b) => a + b, 0);
  const lines = [...all.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([name, cpu]) =>
        `    ${name.padEnd(36)} ${cpu.toFixed(0).padStart(7)} ms  ${((100 * cpu) / total).toFixed(1).padStart(5)} %  ${((1000 * cpu) / Math.max(1, executions)).toFixed(0).padStart(6)} µs/execution`,
    );
  return [
    `    ${'total (server main thread + sandbox children)'.padEnd(36)} ${total.toFixed(0).padStart(7)} ms         ${((1000 * total) / Math.max(1, executions)).toFixed(0).padStart(6)} µs/execution`,
    ...lines,
  ];
}
