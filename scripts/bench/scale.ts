/**
 * Scenarios that need processes of their own: (f) scale-out, one `api` and two `worker` processes
 * of src/main.ts on one database, and (g) fairness, one account's backlog against another's
 * single run.
 */
import type { Actor } from '../../src/services/actor';
import { BenchServer, spawnFlowRunner } from './processes';
import { int, ms, percentile, ratio } from './report';
import { call, finishedMs, newFlow, saturated, warmUp, type Bench } from './scenarios';

export async function scenarioF(b: Bench, env: Record<string, string>, rateA?: number): Promise<void> {
  console.log(`\n(f) scale-out: npm start -- api, plus two npm start -- worker, running (a) for ${b.seconds} s`);
  const started: { pid: number; stop(): Promise<void> }[] = [];
  try {
    const api = await spawnFlowRunner('api', env);
    started.push(api);
    for (let i = 0; i < 2; i++) started.push(await spawnFlowRunner('worker', env));
    await warmUp(b, api.url!, 'f');
    const s = await saturated(
      b,
      api.url!,
      await newFlow(b, 'f: one-node transform, scale-out', 1),
      'completed',
      started.map((p) => p.pid),
    );
    const rate = s.completed / s.span;
    b.summary.add({
      scenario: '(f) scale-out: 1 api + 2 worker processes, executions/s',
      figure: `${int(rate)} /s (p50 ${ms(s.p50)}, p99 ${ms(s.p99)})`,
      baseline: rateA === undefined ? `${int(b.commits32 ?? NaN)} commits/s` : `(a) ${int(rateA)} /s in one process`,
      ratio: rateA === undefined ? ratio(rate / (b.commits32 ?? NaN)) : `${ratio(rate / rateA)} of (a)`,
    });
  } finally {
    await Promise.all(started.map((p) => p.stop()));
  }
}

const TRIES = 20;
const TRY_DEADLINE_MS = 10_000;

async function account(b: Bench, name: string): Promise<{ actor: Actor; token: string }> {
  const row = await b.services.accounts.create(b.actor, {
    name,
    email: `${name.toLowerCase().replace(/\W+/g, '-')}@example.com`,
    password: 'bench-password',
    role: 'user',
  });
  return {
    actor: { accountId: row.id, role: 'user', via: 'token', memberships: await b.services.auth.membershipsOf(row.id) },
    token: b.services.auth.issueToken(row.id).token,
  };
}

/**
 * Account A's backlog is started through the service layer (ExecutionsService.start, the API's
 * own use case, as many at a time as the scratch pool has connections) while no worker runs, so
 * all of it is queued when the server starts; B's runs then go through the API one after another.
 */
export async function scenarioG(
  b: Bench,
  env: Record<string, string>,
  opts: { backlog: number; enqueuers: number },
): Promise<void> {
  const { backlog } = opts;
  console.log(
    `\n(g) fairness: account A has ${int(backlog)} executions queued, account B starts one ${TRIES} times in a row`,
  );
  const a = await account(b, 'Bench A');
  const bee = await account(b, 'Bench B');
  const flowA = await newFlow(b, 'g: account A', 1, a.actor);
  const flowB = await newFlow(b, 'g: account B', 1, bee.actor);
  const t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: opts.enqueuers }, async () => {
      while (started < backlog) {
        started++;
        await b.services.executions.start(a.actor, { flowId: flowA, input: {} });
      }
    }),
  );
  const enqueueSeconds = (performance.now() - t0) / 1000;
  console.log(
    `  A: ${int(started)} executions started through the service layer in ${enqueueSeconds.toFixed(1)} s (${int(started / enqueueSeconds)}/s), no worker running`,
  );
  // B's start must wait its turn in the claims, not run its transform before it commits (inline starts).
  const server = await BenchServer.start({ ...env, FLOWRUNNER_INLINE_STARTS: 'false' });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < TRIES; i++) {
      const res = await call(server.url, 'POST', `/api/v1/flows/${flowB}/run`, bee.token, { input: {} });
      if (res.status !== 202) throw new Error(`(g) B's start answered ${res.status}`);
      const took = await finishedMs(b.db, String(res.body.execution_id), TRY_DEADLINE_MS);
      if (took === undefined) break; // strict FIFO: the next tries would wait as long
      latencies.push(took);
    }
  } finally {
    const { rows } = await b.db.raw(
      `select count(*)::int as n from executions where flow_id = ? and status not in ('completed','failed','cancelled')`,
      [flowA],
    );
    console.log(`  A: ${int(rows[0].n)} of ${int(backlog)} still queued or running when B was done`);
    await server.stop();
  }
  latencies.sort((x, y) => x - y);
  const missed = latencies.length < TRIES;
  const figure = missed
    ? `B's try ${latencies.length + 1} did not finish within ${TRY_DEADLINE_MS / 1000} s (${latencies.length} of ${TRIES} did)`
    : `B start→finish p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))} (${TRIES} tries)`;
  console.log(`  ${figure}`);
  b.summary.add({
    scenario: `(g) fairness: B's run behind A's ${int(backlog)}`,
    figure,
    baseline: '',
    ratio: 'target p50 < 100 ms',
  });
}
