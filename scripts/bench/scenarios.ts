/**
 * Scenarios (a)–(e) of issue 13 against one FlowRunner server process (API + worker). Throughput
 * counts only executions that are committed and completed, from the database's own timestamps
 * (created_at → completed_at); the load generator's figures say what the clients saw.
 */
import http from 'node:http';
import fs from 'node:fs';
import type { Knex } from '../../src/db/knex';
import type { Services } from '../../src/services';
import type { Actor } from '../../src/services/actor';
import { COMMIT_CONNECTIONS } from './baselines';
import type { LoadGenerator, LoadJob, LoadResult } from './loadgen';
import type { BenchServer } from './processes';
import { machineSnapshot, machineSplit } from './machine';
import { bucketsOf, cpuByBucket, profileLines, profileTop } from './profile';
import { int, ms, percentile, ratio, type Summary } from './report';
import type { ServerCounts } from './server';

export interface Bench {
  db: Knex;
  services: Services;
  actor: Actor;
  token: string;
  load: LoadGenerator;
  summary: Summary;
  seconds: number;
  concurrency: number;
  profile: boolean;
  /** Baselines of this run, filled as they are measured. */
  commits1?: number;
  commits32?: number;
  bareExpress?: number;
}

/** Run-and-wait's wait, in seconds: long enough that a loaded run ends inside it. */
export const WAIT = 10;
const DRAIN_DEADLINE_MS = 600_000;
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

export const chain = (n: number) =>
  'nodes:\n' +
  Array.from(
    { length: n },
    (_, i) =>
      `  n${i}:\n    type: transform\n    params: {expression: "${i}"}\n${i < n - 1 ? `    next: n${i + 1}\n` : ''}`,
  ).join('');

export async function newFlow(b: Bench, name: string, nodes: number, actor = b.actor): Promise<string> {
  return (await b.services.flows.create(actor, { name, definition: chain(nodes) })).id;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request from this process: for probes and one-at-a-time runs, never for load. */
export function call(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json' });
    const req = http.request(new URL(path, base), { method, agent, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} });
        } catch {
          reject(new Error(`${method} ${path} answered ${res.statusCode} with a body that is not JSON`));
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export const runJob = (
  base: string,
  token: string,
  flowId: string,
  concurrency: number,
  seconds: number,
  wait = false,
): LoadJob => ({
  base,
  method: 'POST',
  path: `/api/v1/flows/${flowId}/run${wait ? `?wait=${WAIT}` : ''}`,
  headers: { authorization: `Bearer ${token}` },
  body: { input: {} },
  concurrency,
  seconds,
  okStatuses: wait ? [200] : [202],
  bodyStatus: wait ? 'completed' : undefined,
});

/** Waits until no execution of the flow is still queued or running; returns how many still are. */
export async function drain(db: Knex, flowId: string): Promise<number> {
  const end = Date.now() + DRAIN_DEADLINE_MS;
  for (;;) {
    const { rows } = await db.raw(
      `select count(*)::int as n from executions where flow_id = ? and status not in ('completed','failed','cancelled')`,
      [flowId],
    );
    if (rows[0].n === 0 || Date.now() > end) return rows[0].n;
    await sleep(100);
  }
}

export interface FlowStats {
  executions: number;
  completed: number;
  steps: number;
  span: number;
  p50: number;
  p99: number;
}

/** Completed executions of a flow, from database timestamps: span from the first start to the last finish. */
export async function flowStats(db: Knex, flowId: string): Promise<FlowStats> {
  const { rows } = await db.raw(
    `select count(*)::int as n,
            count(*) filter (where status = 'completed')::int as completed,
            coalesce(sum(step_count) filter (where status = 'completed'), 0)::int as steps,
            extract(epoch from max(completed_at) filter (where status = 'completed') - min(created_at)) as span,
            array_agg(extract(epoch from completed_at - created_at) * 1000 order by completed_at - created_at)
              filter (where status = 'completed') as lat
       from executions where flow_id = ?`,
    [flowId],
  );
  const lat = ((rows[0].lat ?? []) as string[]).map(Number);
  return {
    executions: rows[0].n,
    completed: rows[0].completed,
    steps: rows[0].steps,
    span: Number(rows[0].span),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
  };
}

const describeLoad = (r: LoadResult, what: string) =>
  `${int(r.ok)} ${what} answered in ${r.seconds.toFixed(1)} s (${int(r.perSecond)}/s), latency p50 ${ms(r.p50)}, p99 ${ms(r.p99)}` +
  (Object.keys(r.failures).length ? `; failures ${JSON.stringify(r.failures)}` : '');

/** JIT, connection pools and the sandbox's processes warm up outside the measured window. */
export async function warmUp(b: Bench, base: string, scenario: string): Promise<void> {
  const flowId = await newFlow(b, `${scenario}: warm-up`, 1);
  await b.load.run(runJob(base, b.token, flowId, b.concurrency, Math.min(2, b.seconds)));
  await drain(b.db, flowId);
}

/** A saturated run of a flow: the load, then the drain, then database figures. */
/** Loads `flowId` for the window, drains, and reports; `serverPids` are the FlowRunner processes, for the machine's CPU split. */
export async function saturated(b: Bench, base: string, flowId: string, label: string, serverPids: number[]) {
  const machineBefore = machineSnapshot();
  const res = await b.load.run(runJob(base, b.token, flowId, b.concurrency, b.seconds));
  console.log(`  clients: ${describeLoad(res, 'starts (202)')}`);
  const left = await drain(b.db, flowId);
  const machineAfter = machineSnapshot();
  const s = await flowStats(b.db, flowId);
  const notDone = s.executions - s.completed;
  console.log(
    `  ${label}: ${int(s.completed)} executions completed in ${s.span.toFixed(1)} s = ${int(s.completed / s.span)} executions/s, ${int(s.steps / s.span)} steps/s; start→finish p50 ${ms(s.p50)}, p99 ${ms(s.p99)}` +
      (notDone
        ? `; ${notDone} not completed${left ? ` (${left} still queued or running after the drain deadline)` : ''}`
        : ''),
  );
  const split = machineSplit(machineBefore, machineAfter, { server: serverPids, loadgen: b.load.pid }, s.completed);
  if (split) console.log(`  ${split}`);
  return s;
}

function costLines(before: ServerCounts, after: ServerCounts, executions: number): string[] {
  const per = (n: number) => (n / Math.max(1, executions)).toFixed(2);
  const d = (k: keyof ServerCounts['statements']) => after.statements[k] - before.statements[k];
  return [
    `  per execution (server process, counted by wrapping pg.Client.prototype.query over the load and the drain):`,
    `    ${per(d('statements'))} SQL statements (${per(d('readOnly'))} read-only, BEGIN/COMMIT included), ${per(d('commits'))} transactions committed (BEGIN…COMMIT or a statement on its own; ${per(d('writeCommits'))} of them write, each a WAL flush unless grouped), ${per(d('rollbacks'))} rollbacks, ${per(d('notifies'))} NOTIFY statements`,
    `    CPU: ${per(after.cpuMs - before.cpuMs)} ms server process, ${per(after.childrenCpuMs - before.childrenCpuMs)} ms expression sandbox children`,
  ];
}

/** Runs `load` with the server's counters read around it, and its CPU profile when asked for. */
async function measured<T>(b: Bench, server: BenchServer, load: () => Promise<T>) {
  const before = await server.counts();
  if (b.profile) await server.profileStart();
  const result = await load();
  const profile = b.profile ? await server.profileStop() : undefined;
  const after = await server.counts();
  const cpu =
    profile &&
    cpuByBucket(
      bucketsOf(JSON.parse(fs.readFileSync(profile.file, 'utf8'))),
      after.cpuMs - before.cpuMs,
      profile.sandboxMs,
    );
  return { result, before, after, cpu, file: profile?.file };
}

/** The profile's lines, per unit of work (`execution`, `step`, `read`). */
function printProfile(m: Awaited<ReturnType<typeof measured>>, units: number, unit: string): void {
  if (!m.cpu) return;
  console.log(
    `  CPU profile of the server process (${m.file}): its CPU time split by the profile's shares, by package, per ${unit}:`,
  );
  for (const line of profileLines(m.cpu, units)) console.log(line.replace('/execution', `/${unit}`));
}

export async function scenarioA(b: Bench, server: BenchServer): Promise<number> {
  console.log(`\n(a) ${b.concurrency} clients start a one-node transform flow for ${b.seconds} s`);
  await warmUp(b, server.url, 'a');
  const flowId = await newFlow(b, 'a: one-node transform', 1);
  const m = await measured(b, server, () => saturated(b, server.url, flowId, 'completed', [server.pid]));
  const { result: s, before, after } = m;
  const rate = s.completed / s.span;
  for (const line of costLines(before, after, s.completed)) console.log(line);
  printProfile(m, s.completed, 'execution');
  const top = m.cpu && profileTop(m.cpu);
  const perExec = (after.statements.statements - before.statements.statements) / Math.max(1, s.completed);
  const commits = (after.statements.writeCommits - before.statements.writeCommits) / Math.max(1, s.completed);
  b.summary.add({
    scenario: `(a) one-node executions/s, ${b.concurrency} clients`,
    figure: `${int(rate)} /s (start→finish p50 ${ms(s.p50)}, p99 ${ms(s.p99)})`,
    baseline: `${int(b.commits32 ?? NaN)} commits/s (${COMMIT_CONNECTIONS} connections)`,
    ratio: `${ratio(rate / (b.commits32 ?? NaN))} of raw commits`,
  });
  b.summary.add({
    scenario: '(a) cost per execution',
    figure: `${perExec.toFixed(1)} statements, ${commits.toFixed(1)} write commits, ${((after.cpuMs - before.cpuMs) / Math.max(1, s.completed)).toFixed(2)} ms server CPU`,
    baseline: '1 statement, 1 write commit',
    ratio: '',
  });
  if (top) b.summary.add({ scenario: '(a) server CPU by package (profile)', figure: top, baseline: '', ratio: '' });
  return rate;
}

export async function scenarioB(b: Bench, server: BenchServer, oneByOne = false): Promise<void> {
  const label = oneByOne ? '(b1)' : '(b)';
  const how = oneByOne ? ', every step committed on its own (FLOWRUNNER_STEPS_IN_MEMORY=1, no inline starts)' : '';
  console.log(`\n${label} ${b.concurrency} clients start a 10-node chain for ${b.seconds} s${how}`);
  const flowId = await newFlow(b, `${label}: 10-node chain`, 10);
  const m = await measured(b, server, () => saturated(b, server.url, flowId, 'completed', [server.pid]));
  const { result: s, before, after } = m;
  const steps = s.steps / s.span;
  console.log(
    `  per step: ${((after.statements.statements - before.statements.statements) / Math.max(1, s.steps)).toFixed(2)} statements, ${((after.cpuMs - before.cpuMs) / Math.max(1, s.steps)).toFixed(3)} ms server CPU`,
  );
  printProfile(m, s.steps, 'step');
  b.summary.add({
    scenario: oneByOne ? '(b1) the same chain, each step its own commit' : '(b) 10-node chain, steps/s',
    figure: `${int(steps)} /s`,
    baseline: `${int(b.commits32 ?? NaN)} commits/s`,
    ratio: `${ratio(steps / (b.commits32 ?? NaN))} of raw commits`,
  });
}

/** Whether run-and-wait answers 200 with a finished execution; prints what it got when not. */
export async function waitSupported(base: string, token: string, flowId: string): Promise<boolean> {
  const res = await call(base, 'POST', `/api/v1/flows/${flowId}/run?wait=${WAIT}`, token, { input: {} });
  if (res.status === 200 && res.body.status === 'completed') return true;
  const code = (res.body.error as { code?: string } | undefined)?.code;
  console.log(`  run-and-wait probe: ${res.status} ${String(res.body.status ?? code ?? '')}`);
  return false;
}

/** Waits for one execution to finish, by database timestamps; undefined when it does not within the deadline. */
export async function finishedMs(db: Knex, executionId: string, deadlineMs: number): Promise<number | undefined> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const { rows } = await db.raw(
      `select status, extract(epoch from completed_at - created_at) * 1000 as ms from executions where id = ?`,
      [executionId],
    );
    if (['completed', 'failed', 'cancelled'].includes(rows[0]?.status)) return Number(rows[0].ms);
    await sleep(2);
  }
  return undefined;
}

export async function scenarioC(b: Bench, server: BenchServer, waits: boolean): Promise<void> {
  console.log(`\n(c) one client at a time, one-node flow, for ${b.seconds} s (at most 500 runs)`);
  const flowId = await newFlow(b, 'c: one-node transform, low load', 1);
  const end = Date.now() + b.seconds * 1000;
  // Start, wait for the finish in the database, then the next: the engine never has two at once.
  for (let i = 0; i < 500 && Date.now() < end; i++) {
    const res = await call(server.url, 'POST', `/api/v1/flows/${flowId}/run`, b.token, { input: {} });
    if (res.status !== 202) throw new Error(`(c) start answered ${res.status}`);
    await finishedMs(b.db, String(res.body.execution_id), 10_000);
  }
  const s = await flowStats(b.db, flowId);
  console.log(`  ${s.completed} runs, start→finish (database) p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`);
  let observed = 'run-and-wait not supported yet';
  if (waits) {
    const waitFlow = await newFlow(b, 'c: one-node transform, run-and-wait', 1);
    const r = await b.load.run({ ...runJob(server.url, b.token, waitFlow, 1, b.seconds, true), maxRequests: 500 });
    const w = await flowStats(b.db, waitFlow);
    observed = `client-observed p50 ${ms(r.p50)}, p99 ${ms(r.p99)} (database p50 ${ms(w.p50)})`;
    console.log(
      `  run-and-wait, one client: ${describeLoad(r, 'runs (200 completed)')}; database p50 ${ms(w.p50)}, p99 ${ms(w.p99)}`,
    );
  }
  b.summary.add({
    scenario: '(c) start→finish at low load, one client',
    figure: `p50 ${ms(s.p50)}, p99 ${ms(s.p99)} (database); ${observed}`,
    baseline: '',
    ratio: '',
  });
}

export async function scenarioD(b: Bench, server: BenchServer, waits: boolean, rateA?: number): Promise<void> {
  console.log(`\n(d) ${b.concurrency} clients run-and-wait (POST /flows/{id}/run?wait=${WAIT}) for ${b.seconds} s`);
  if (!waits) {
    console.log('  (d) not supported yet');
    b.summary.add({ scenario: '(d) run-and-wait calls/s', figure: 'not supported yet', baseline: '', ratio: '' });
    return;
  }
  const flowId = await newFlow(b, 'd: one-node transform, run-and-wait', 1);
  const machineBefore = machineSnapshot();
  const m = await measured(b, server, () =>
    b.load.run(runJob(server.url, b.token, flowId, b.concurrency, b.seconds, true)),
  );
  const r = m.result;
  console.log(`  clients: ${describeLoad(r, 'runs (200 completed)')}`);
  const split = machineSplit(
    machineBefore,
    machineSnapshot(),
    { server: [server.pid], loadgen: b.load.pid },
    r.requests,
    'call',
  );
  if (split) console.log(`  ${split}`);
  for (const line of costLines(m.before, m.after, r.requests)) console.log(line.replace('per execution', 'per call'));
  printProfile(m, r.requests, 'call');
  await drain(b.db, flowId);
  b.summary.add({
    scenario: `(d) run-and-wait calls/s, ${b.concurrency} clients`,
    figure: `${int(r.perSecond)} /s (client p50 ${ms(r.p50)}, p99 ${ms(r.p99)})`,
    baseline: rateA === undefined ? `${int(b.commits32 ?? NaN)} commits/s` : `(a) ${int(rateA)} executions/s`,
    ratio: rateA === undefined ? ratio(r.perSecond / (b.commits32 ?? NaN)) : `${ratio(r.perSecond / rateA)} of (a)`,
  });
}

export async function scenarioE(b: Bench, server: BenchServer): Promise<void> {
  console.log(`\n(e) ${b.concurrency} clients read one execution (GET /api/v1/executions/{id}) for ${b.seconds} s`);
  const flowId = await newFlow(b, 'e: one-node transform', 1);
  const started = await call(server.url, 'POST', `/api/v1/flows/${flowId}/run`, b.token, { input: {} });
  const id = String(started.body.execution_id);
  await finishedMs(b.db, id, 10_000);
  const machineBefore = machineSnapshot();
  const m = await measured(b, server, () =>
    b.load.run({
      base: server.url,
      method: 'GET',
      path: `/api/v1/executions/${id}`,
      headers: { authorization: `Bearer ${b.token}` },
      concurrency: b.concurrency,
      seconds: b.seconds,
      okStatuses: [200],
    }),
  );
  const r = m.result;
  console.log(`  clients: ${describeLoad(r, 'reads (200)')}`);
  const reads = r.requests;
  const split = machineSplit(
    machineBefore,
    machineSnapshot(),
    { server: [server.pid], loadgen: b.load.pid },
    reads,
    'read',
  );
  if (split) console.log(`  ${split}`);
  printProfile(m, reads, 'read');
  b.summary.add({
    scenario: '(e) authenticated GET /executions/{id}, req/s',
    figure: `${int(r.perSecond)} /s (p50 ${ms(r.p50)}, p99 ${ms(r.p99)})`,
    baseline: `${int(b.bareExpress ?? NaN)} req/s bare Express`,
    ratio: `${ratio(r.perSecond / (b.bareExpress ?? NaN))} of bare Express`,
  });
}
