/**
 * npm run bench:foreach — a foreach over BENCH_ITEMS (10,000) items of a `transform`, next to the
 * same number of one-node executions, in the same run against the same server process (API +
 * worker, worker concurrency BENCH_WORKER_CONCURRENCY, 32). Each figure is items (executions)
 * completed per second from the database's own timestamps: the foreach from its execution's
 * created_at to completed_at; the one-node executions from the first created_at to the last
 * completed_at, started by BENCH_CONCURRENCY (32) clients at once. The foreach runs
 * BENCH_FOREACH_CONCURRENCY (100) iterations at a time.
 *
 * Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
 * embedded PostgreSQL. Figures are printed, never asserted.
 */
import os from 'node:os';
import { machineSnapshot, machineSplit } from './machine';
import { BenchServer } from './processes';
import { int } from './report';
import { call, drain, type Bench } from './scenarios';
import { BENCH_KEYS, scratch } from './scratch';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32);
const FOREACH_CONCURRENCY = Number(process.env.BENCH_FOREACH_CONCURRENCY ?? 100);

/** BENCH_PROFILE=1: a CPU profile of the server process during the foreach (its file is printed). */
const PROFILE = process.env.BENCH_PROFILE === '1';

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

async function seconds(db: Bench['db'], sql: string, args: string[]): Promise<number> {
  const { rows } = await db.raw(`select extract(epoch from (${sql}))::float8 as s`, args);
  return rows[0].s as number;
}

async function main() {
  const env = await scratch({ FLOWRUNNER_DB_POOL_MAX: '10' }, { worker: false });
  const server = await BenchServer.start({
    DATABASE_URL: env.config.databaseUrl!,
    FLOWRUNNER_DATA_DIR: env.config.dataDir,
    FLOWRUNNER_JWT_SECRET: BENCH_KEYS.jwtSecret,
    FLOWRUNNER_ENCRYPTION_KEY: BENCH_KEYS.encryptionKey.toString('base64'),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    FLOWRUNNER_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    FLOWRUNNER_DB_POOL_MAX: '40',
  });
  const cpus = os.cpus();
  console.log(
    `FlowRunner foreach benchmark — ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(1)}; ${env.where}; ` +
      `${ITEMS} items; server: one process (API + worker, worker concurrency ${WORKER_CONCURRENCY})`,
  );
  try {
    const one = (
      await env.services.flows.create(env.actor, {
        name: 'one node',
        definition: 'nodes:\n  start: {type: transform, params: {expression: "input.n * 2"}}\n',
      })
    ).id;
    const each = (
      await env.services.flows.create(env.actor, {
        name: 'foreach',
        definition: `nodes:
  start:
    type: foreach
    params: {items: "{{ [0..${ITEMS - 1}] }}", concurrency: ${FOREACH_CONCURRENCY}}
    next: {each: double}
  double: {type: transform, params: {expression: "item * 2"}}
`,
      })
    ).id;

    // One-node executions: ITEMS starts from CONCURRENCY clients.
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ITEMS) {
          const n = next++;
          const res = await call(server.url, 'POST', `/api/v1/flows/${one}/run`, env.token, { input: { n } });
          if (res.status !== 202) throw new Error(`run answered ${res.status}`);
        }
      }),
    );
    const left = await drain(env.db, one);
    if (left > 0) throw new Error(`${left} one-node executions did not finish`);
    const oneSeconds = await seconds(
      env.db,
      'select max(completed_at) - min(created_at) from executions where flow_id = ?',
      [one],
    );

    // The foreach: one execution, ITEMS iterations.
    const countsBefore = await server.counts();
    const machineBefore = machineSnapshot();
    if (PROFILE) await server.profileStart();
    const started = await call(server.url, 'POST', `/api/v1/flows/${each}/run`, env.token, { input: {} });
    const id = String(started.body.execution_id);
    for (;;) {
      const ex = await call(server.url, 'GET', `/api/v1/executions/${id}`, env.token);
      if (['completed', 'failed', 'cancelled'].includes(String(ex.body.status))) {
        if (ex.body.status !== 'completed') throw new Error(`the foreach ended ${ex.body.status}: ${ex.body.error}`);
        break;
      }
      await sleep(500);
    }
    const foreachSeconds = await seconds(env.db, 'select completed_at - created_at from executions where id = ?', [id]);
    const profile = PROFILE ? await server.profileStop() : undefined;
    const countsAfter = await server.counts();
    const split = machineSplit(machineBefore, machineSnapshot(), { server: [server.pid], loadgen: -1 }, ITEMS, 'item');
    const per = (n: number) => (n / ITEMS).toFixed(2);
    const st = (k: 'statements' | 'writeCommits') => countsAfter.statements[k] - countsBefore.statements[k];

    const oneRate = ITEMS / oneSeconds;
    const foreachRate = ITEMS / foreachSeconds;
    console.log('\n| what | items | seconds | items/s |\n|---|---:|---:|---:|');
    console.log(
      `| one-node executions (${CONCURRENCY} clients) | ${int(ITEMS)} | ${oneSeconds.toFixed(1)} | ${int(oneRate)} |`,
    );
    console.log(
      `| foreach of a transform (concurrency ${FOREACH_CONCURRENCY}) | ${int(ITEMS)} | ${foreachSeconds.toFixed(1)} | ${int(foreachRate)} |`,
    );
    console.log(`\nforeach / one-node executions: ${(foreachRate / oneRate).toFixed(2)}`);
    console.log(
      `foreach, per item: ${per(st('statements'))} SQL statements, ${per(st('writeCommits'))} write commits, ` +
        `${per(countsAfter.cpuMs - countsBefore.cpuMs)} ms server CPU${split ? `; ${split}` : ''}`,
    );
    if (profile) console.log(`CPU profile of the server process during the foreach: ${profile.file}`);
  } finally {
    await server.stop();
    await env.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
