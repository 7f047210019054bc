/**
 * npm run bench:webhooks — webhook trigger throughput with `respond: on_completion`, side by side
 * with the plain API's run-and-wait in the same run, on one FlowRunner process (API + worker)
 * loaded from a separate load-generator process. Each window is its own flow (a 3-node transform
 * chain), so every figure counts only its own executions.
 *
 * Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
 * embedded PostgreSQL. Options: BENCH_SECONDS (10) per window, BENCH_CONCURRENCY (32) callers,
 * BENCH_WORKER_CONCURRENCY (32). Figures are printed, never asserted.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { LoadGenerator, type LoadJob, type LoadResult } from './loadgen';
import { BenchServer } from './processes';
import { int, ms, Summary } from './report';
import { drain, newFlow, runJob, type Bench } from './scenarios';
import { BENCH_KEYS, scratch } from './scratch';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32);
const BODY = { action: 'opened', number: 7 };
const SECRET = 'bench-webhook-secret';

const hookJob = (base: string, token: string, seconds: number, headers: Record<string, string> = {}): LoadJob => ({
  base,
  method: 'POST',
  path: `/hooks/${token}`,
  headers,
  body: BODY,
  concurrency: CONCURRENCY,
  seconds,
  okStatuses: [200],
});

const describe = (r: LoadResult) =>
  `${int(r.ok)} answered with the result in ${r.seconds.toFixed(1)} s = ${int(r.perSecond)}/s, latency p50 ${ms(r.p50)}, p99 ${ms(r.p99)}` +
  (Object.keys(r.failures).length ? `; failures ${JSON.stringify(r.failures)}` : '');

async function main() {
  const env = await scratch({ FLOWRUNNER_DB_POOL_MAX: '10' }, { worker: false });
  const serverEnv = {
    DATABASE_URL: env.config.databaseUrl!,
    FLOWRUNNER_DATA_DIR: env.config.dataDir,
    FLOWRUNNER_JWT_SECRET: BENCH_KEYS.jwtSecret,
    FLOWRUNNER_ENCRYPTION_KEY: BENCH_KEYS.encryptionKey.toString('base64'),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    FLOWRUNNER_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    FLOWRUNNER_DB_POOL_MAX: '40',
  };
  const load = new LoadGenerator();
  const summary = new Summary();
  const b = { db: env.db, services: env.services, actor: env.actor } as Bench;
  const cpus = os.cpus();
  console.log(
    `FlowRunner webhook trigger benchmark — ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(1)}; ${env.where}; ` +
      `${SECONDS} s per window, ${CONCURRENCY} callers in a separate load-generator process; server: one process (API + worker, worker concurrency ${WORKER_CONCURRENCY})`,
  );
  const server = await BenchServer.start(serverEnv);
  try {
    const hookOn = async (flowId: string, verification?: { scheme: 'github' }) => {
      const hook = await env.services.webhooks.create(env.actor, flowId, {
        respond: 'on_completion',
        timeout_seconds: 10,
        ...(verification ? { verification, secret: SECRET } : {}),
      });
      return hook.token!;
    };
    const window = async (label: string, job: (flowId: string) => Promise<LoadJob>) => {
      const flowId = await newFlow(b, label, 3);
      const res = await load.run(await job(flowId));
      await drain(env.db, flowId);
      console.log(`  ${label}: ${describe(res)}`);
      return res;
    };
    console.log('\nwarm-up');
    await window('warm-up: API run-and-wait', async (f) => runJob(server.url, env.token, f, CONCURRENCY, 2, true));
    await window('warm-up: webhook', async (f) => hookJob(server.url, await hookOn(f), 2));

    console.log(`\n${CONCURRENCY} callers start a 3-node flow and wait for its result, ${SECONDS} s each`);
    const api = await window('API run-and-wait (POST /flows/{id}/run?wait=10)', async (f) =>
      runJob(server.url, env.token, f, CONCURRENCY, SECONDS, true),
    );
    const plain = await window('webhook, respond on_completion, no verification', async (f) =>
      hookJob(server.url, await hookOn(f), SECONDS),
    );
    const signature = `sha256=${crypto.createHmac('sha256', SECRET).update(JSON.stringify(BODY)).digest('hex')}`;
    const signed = await window('webhook, respond on_completion, GitHub signature', async (f) =>
      hookJob(server.url, await hookOn(f, { scheme: 'github' }), SECONDS, { 'x-hub-signature-256': signature }),
    );
    const row = (scenario: string, r: LoadResult) =>
      summary.add({
        scenario,
        figure: `${int(r.perSecond)}/s (p50 ${ms(r.p50)}, p99 ${ms(r.p99)})`,
        baseline: `${int(api.perSecond)}/s API run-and-wait`,
        ratio: (r.perSecond / api.perSecond).toFixed(2),
      });
    summary.add({
      scenario: `API run-and-wait, ${CONCURRENCY} callers`,
      figure: `${int(api.perSecond)}/s (p50 ${ms(api.p50)}, p99 ${ms(api.p99)})`,
      baseline: '',
      ratio: '',
    });
    row(`webhook on_completion, ${CONCURRENCY} callers`, plain);
    row(`webhook on_completion + GitHub HMAC, ${CONCURRENCY} callers`, signed);
    console.log(`\nSummary (${SECONDS} s windows, ${new Date().toISOString().slice(0, 10)}):\n`);
    console.log(summary.markdown());
  } finally {
    await server.stop();
    load.close();
    await env.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
