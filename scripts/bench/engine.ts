/**
 * npm run bench:engine — executions/s and start-to-finish latency on this machine, with the API,
 * a worker and PostgreSQL all local, next to the machine's ceiling: single-row INSERT commits.
 *
 * Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
 * embedded PostgreSQL. BENCH_SECONDS (default 30) is the load window of each scenario.
 * Figures are printed, never asserted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import pg from 'pg';
import os from 'node:os';
import { createApp } from '../../src/http/app';
import { scratch } from './scratch';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const env = await scratch(
    {
      FLOWRUNNER_HTTP_ALLOW: '127.0.0.1',
      FLOWRUNNER_WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY ?? '32',
      FLOWRUNNER_DB_POOL_MAX: '40',
    },
    { worker: true },
  );
  const { db, services, config } = env;
  const databaseUrl = env.config.databaseUrl!;
  const server = http.createServer(createApp(services));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const target = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
  );
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;

  const token = env.token;
  const client = axios.create({
    baseURL: base,
    headers: { authorization: `Bearer ${token}` },
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
  });
  const flow = async (name: string, definition: string) =>
    (await client.post('/api/v1/flows', { name, definition })).data.id as string;

  const chain = (n: number) =>
    'nodes:\n' +
    Array.from(
      { length: n },
      (_, i) =>
        `  n${i}:\n    type: transform\n    params: {expression: "${i}"}\n${i < n - 1 ? `    next: n${i + 1}\n` : ''}`,
    ).join('');
  const flows = {
    a: await flow('a: 1-node transform', chain(1)),
    b: await flow('b: 10-node chain', chain(10)),
    c: await flow(
      'c: 3 nodes with http.request',
      `nodes:\n  n0:\n    type: transform\n    params: {expression: "1"}\n    next: n1\n  n1:\n    type: http.request\n    params: {url: "${targetUrl}"}\n    next: n2\n  n2:\n    type: transform\n    params: {expression: "nodes.n1.output.status_code"}\n`,
    ),
  };

  async function drain(flowId: string) {
    for (;;) {
      const { rows } = await db.raw(
        `select count(*)::int as n from executions where flow_id = ? and status not in ('completed','failed','cancelled')`,
        [flowId],
      );
      if (rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stats(flowId: string) {
    const { rows } = await db.raw(
      `select count(*)::int as n, sum(step_count)::int as steps, count(*) filter (where status <> 'completed')::int as not_completed,
              extract(epoch from max(completed_at) - min(created_at)) as span,
              array_agg(extract(epoch from completed_at - created_at) * 1000 order by completed_at - created_at) as lat
         from executions where flow_id = ?`,
      [flowId],
    );
    const r = rows[0];
    const lat = (r.lat as number[]).map(Number);
    return {
      n: r.n,
      steps: r.steps,
      notCompleted: r.not_completed,
      span: Number(r.span),
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
    };
  }

  async function load(name: string, flowId: string, seconds: number) {
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < end) await client.post(`/api/v1/flows/${flowId}/run`, { input: {} });
      }),
    );
    await drain(flowId);
    const s = await stats(flowId);
    const perSecond = s.n / s.span;
    console.log(
      `${name}: ${s.n} executions in ${s.span.toFixed(1)} s = ${perSecond.toFixed(0)} executions/s, ${(s.steps / s.span).toFixed(0)} steps/s; latency p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms${s.notCompleted ? `; ${s.notCompleted} not completed` : ''}`,
    );
    return { perSecond, stepsPerSecond: s.steps / s.span, ...s };
  }

  async function lowLoad(flowId: string, count: number) {
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const { data } = await client.post(`/api/v1/flows/${flowId}/run`, { input: {} });
      for (;;) {
        const { rows } = await db.raw(
          `select status, extract(epoch from completed_at - created_at) * 1000 as ms from executions where id = ?`,
          [data.execution_id],
        );
        if (rows[0].status === 'completed') {
          lat.push(Number(rows[0].ms));
          break;
        }
        await new Promise((r) => setImmediate(r));
      }
    }
    lat.sort((x, y) => x - y);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  }

  async function ceiling(seconds: number) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(
      'create table bench_ceiling (id bigserial primary key, payload jsonb not null, at timestamptz not null default now())',
    );
    const end = Date.now() + seconds * 1000;
    let n = 0;
    while (Date.now() < end) {
      await c.query('insert into bench_ceiling (payload) values ($1)', ['{"k":"v"}']);
      n++;
    }
    await c.end();
    return n / seconds;
  }

  console.log(
    `FlowRunner engine benchmark — ${os.cpus().length} cores, ${os.cpus()[0].model}; ${env.where}; ${SECONDS} s per scenario, ${CONCURRENCY} concurrent starters, worker concurrency ${config.workerConcurrency}`,
  );
  const inserts = await ceiling(Math.min(10, SECONDS));
  console.log(`ceiling: ${inserts.toFixed(0)} single-row INSERT commits/s over one pg connection`);
  const low = await lowLoad(flows.a, 200);
  console.log(
    `a at low load (one at a time, 200 runs): latency p50 ${low.p50.toFixed(1)} ms, p99 ${low.p99.toFixed(1)} ms`,
  );
  await db.raw('delete from executions where flow_id = ?', [flows.a]);
  const a = await load('a (1-node transform)', flows.a, SECONDS);
  const b = await load('b (10-node chain)', flows.b, Math.max(5, SECONDS / 3));
  await load('c (3 nodes, http.request to a local server)', flows.c, Math.max(5, SECONDS / 3));
  console.log(
    `ratios to the INSERT ceiling: a ${(a.perSecond / inserts).toFixed(2)} executions per insert-commit; b ${(b.stepsPerSecond / inserts).toFixed(2)} steps per insert-commit`,
  );

  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  target.close();
  await env.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
