/**
 * npm run bench:engine — the figures issue 13 is judged by, each next to a baseline measured in the
 * same run: raw PostgreSQL commits (one connection, and 32 at once with group commit), a bare
 * Express JSON handler, then scenarios (a)–(g) against FlowRunner in processes of its own, loaded
 * from a separate load-generator process (loadgen.ts).
 *
 * Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
 * embedded PostgreSQL. Options: BENCH_SECONDS (10) per load window, BENCH_CONCURRENCY (32)
 * clients, BENCH_ONLY=a,b,… a subset (b1: the chain of (b) with every step committed on its own), BENCH_PROFILE=1 a CPU profile of the server during (a),
 * BENCH_BACKLOG (20000) account A's executions in (g), BENCH_WORKER_CONCURRENCY (32), BENCH_BASELINES=0
 * to skip the raw-commit baselines.
 * Figures are printed, never asserted.
 */
import os from 'node:os';
import { bareExpress, COMMIT_CONNECTIONS, commitRate } from './baselines';
import { LoadGenerator } from './loadgen';
import { BenchServer } from './processes';
import { int, Summary } from './report';
import { scenarioF, scenarioG } from './scale';
import { newFlow, scenarioA, scenarioB, scenarioC, scenarioD, scenarioE, waitSupported, type Bench } from './scenarios';
import { BENCH_KEYS, scratch } from './scratch';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 20_000);
const PROFILE = process.env.BENCH_PROFILE === '1';
/** BENCH_BASELINES=0 skips the raw-commit baselines (for a quick look or a profile; ratios then read NaN). */
const BASELINES = process.env.BENCH_BASELINES !== '0';
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'a,b,b1,c,d,e,f,g')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean),
);
/** The scratch process's own pool: setup, drains and (g)'s backlog; small, so the servers' pools fit under max_connections. */
const SCRATCH_POOL = 10;

async function main() {
  const env = await scratch({ FLOWRUNNER_DB_POOL_MAX: String(SCRATCH_POOL) }, { worker: false });
  const databaseUrl = env.config.databaseUrl!;
  const common = {
    DATABASE_URL: databaseUrl,
    FLOWRUNNER_DATA_DIR: env.config.dataDir,
    FLOWRUNNER_JWT_SECRET: BENCH_KEYS.jwtSecret,
    FLOWRUNNER_ENCRYPTION_KEY: BENCH_KEYS.encryptionKey.toString('base64'),
    FLOWRUNNER_HTTP_ALLOW: '127.0.0.1',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
  };
  const serverEnv = {
    ...common,
    FLOWRUNNER_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    FLOWRUNNER_DB_POOL_MAX: '40',
  };
  // Two workers share (a)'s worker concurrency, so (f) differs from (a) only in the process split.
  const scaleEnv = {
    ...common,
    FLOWRUNNER_WORKER_CONCURRENCY: String(Math.max(1, Math.ceil(WORKER_CONCURRENCY / 2))),
    FLOWRUNNER_DB_POOL_MAX: '20',
  };
  const load = new LoadGenerator();
  const summary = new Summary();
  const b: Bench = {
    db: env.db,
    services: env.services,
    actor: env.actor,
    token: env.token,
    load,
    summary,
    seconds: SECONDS,
    concurrency: CONCURRENCY,
    profile: PROFILE,
  };
  const cpus = os.cpus();
  console.log(
    `FlowRunner engine benchmark — ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(1)}; ${env.where}; ` +
      `${SECONDS} s per load window, ${CONCURRENCY} clients in a separate load-generator process (http.request, keep-alive Agent); ` +
      `server: one process (API + worker, worker concurrency ${WORKER_CONCURRENCY}); scenarios ${[...ONLY].join(',')}${PROFILE ? '; CPU profile on' : ''}`,
  );
  try {
    if (BASELINES && ['a', 'b', 'b1', 'd', 'f'].some((s) => ONLY.has(s))) {
      console.log(`\nbaseline: single-row INSERT commits on the scratch database, ${SECONDS} s each`);
      const one = await commitRate(databaseUrl, 1, SECONDS);
      const many = await commitRate(databaseUrl, COMMIT_CONNECTIONS, SECONDS);
      const notify = await commitRate(databaseUrl, COMMIT_CONNECTIONS, SECONDS, { notify: true });
      b.commits1 = one.perSecond;
      b.commits32 = many.perSecond;
      summary.add({
        scenario: 'baseline: raw commits, 1 connection',
        figure: `${int(one.perSecond)} /s`,
        baseline: '',
        ratio: '',
      });
      summary.add({
        scenario: `baseline: raw commits, ${COMMIT_CONNECTIONS} connections (group commit)`,
        figure: `${int(many.perSecond)} /s`,
        baseline: '',
        ratio: `${(many.perSecond / one.perSecond).toFixed(1)}× one connection`,
      });
      summary.add({
        scenario: `baseline: raw commits with a NOTIFY each, ${COMMIT_CONNECTIONS} connections`,
        figure: `${int(notify.perSecond)} /s`,
        baseline: `${int(many.perSecond)} /s without`,
        ratio: (notify.perSecond / many.perSecond).toFixed(2),
      });
    }
    let rateA: number | undefined;
    if (['a', 'b', 'c', 'd', 'e'].some((s) => ONLY.has(s))) {
      const server = await BenchServer.start(serverEnv);
      try {
        if (ONLY.has('a')) rateA = await scenarioA(b, server);
        if (ONLY.has('b')) await scenarioB(b, server);
        const waits =
          (ONLY.has('c') || ONLY.has('d')) &&
          (await waitSupported(server.url, b.token, await newFlow(b, 'run-and-wait probe', 1)));
        if (ONLY.has('c')) await scenarioC(b, server, waits);
        if (ONLY.has('d')) await scenarioD(b, server, waits, rateA);
        if (ONLY.has('e')) {
          console.log(
            `\nbaseline: bare Express 5 JSON handler in its own process, ${CONCURRENCY} clients, ${SECONDS} s`,
          );
          const bare = await bareExpress(load, CONCURRENCY, SECONDS);
          b.bareExpress = bare.perSecond;
          summary.add({
            scenario: 'baseline: bare Express 5 JSON handler',
            figure: `${int(bare.perSecond)} req/s (p50 ${bare.p50.toFixed(1)} ms)`,
            baseline: '',
            ratio: '',
          });
          await scenarioE(b, server);
        }
      } finally {
        await server.stop();
      }
    }
    if (ONLY.has('b1')) {
      // (b) as the engine did before steps ran in memory: each step is claimed or handed over, and committed, on its own.
      const server = await BenchServer.start({
        ...serverEnv,
        FLOWRUNNER_STEPS_IN_MEMORY: '1',
        FLOWRUNNER_INLINE_STARTS: 'false',
      });
      try {
        await scenarioB(b, server, true);
      } finally {
        await server.stop();
      }
    }
    if (ONLY.has('f')) await scenarioF(b, scaleEnv, rateA);
    if (ONLY.has('g')) await scenarioG(b, serverEnv, { backlog: BACKLOG, enqueuers: SCRATCH_POOL });
    console.log(
      `\nSummary (${SECONDS} s windows, ${CONCURRENCY} clients, ${new Date().toISOString().slice(0, 10)}):\n`,
    );
    console.log(summary.markdown());
  } finally {
    load.close();
    await env.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
