/**
 * npm run bench:events — 200 WebSocket subscribers on one execution that produces 10,000 log
 * events: events/s delivered and p99 event-to-client latency, next to a bare `ws` broadcast of the
 * same messages to the same number of clients (the baseline). Figures are printed, never asserted.
 *
 * BENCH_SUBSCRIBERS (200), BENCH_EVENTS (10000), BENCH_BATCH (events per transaction, 20).
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createApp } from '../../src/http/app';
import { attachRealtime } from '../../src/realtime';
import { appendEvents } from '../../src/repositories/events.repository';
import { scratch } from './scratch';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 200);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 20);

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
  seconds: number;
}

/** Connects `n` clients; resolves when each has received `expected` messages. */
async function subscribers(url: string, n: number, expected: number, headers: Record<string, string> = {}) {
  const latencies = new Float64Array(n * expected);
  let k = 0;
  let finished = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, { headers });
          let got = 0;
          ws.on('message', (data) => {
            const m = JSON.parse(String(data));
            if (m.type !== 'log') return;
            latencies[k++] = Date.now() - Date.parse(m.timestamp);
            if (++got === expected && ++finished === n) resolveAll();
          });
          ws.on('open', () => resolve(ws));
          ws.on('error', reject);
        }),
    ),
  );
  return { sockets, all, latencies: () => latencies.slice(0, k).sort() };
}

function summary(latencies: Float64Array, seconds: number, delivered: number): Result {
  return {
    perSecond: delivered / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    seconds,
  };
}

const message = (i: number, executionId: string) => ({
  level: 'info',
  message: `log line ${i} ${'x'.repeat(60)}`,
  node_id: 'start',
  node_type: 'log',
  data: { i },
  execution_id: executionId,
});

async function baseline(): Promise<Result> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const subs = await subscribers(`ws://127.0.0.1:${port}/`, SUBSCRIBERS, EVENTS);
  const started = Date.now();
  for (let i = 0; i < EVENTS; i += BATCH) {
    const at = new Date().toISOString();
    for (let j = i; j < Math.min(EVENTS, i + BATCH); j++) {
      const text = JSON.stringify({ type: 'log', seq: j + 1, timestamp: at, ...message(j, 'exec-baseline') });
      for (const ws of wss.clients) ws.send(text);
    }
    await new Promise((r) => setImmediate(r));
  }
  await subs.all;
  const seconds = (Date.now() - started) / 1000;
  for (const ws of subs.sockets) ws.close();
  wss.close();
  server.close();
  return summary(subs.latencies(), seconds, SUBSCRIBERS * EVENTS);
}

async function flowrunner(): Promise<Result> {
  const env = await scratch({ FLOWRUNNER_WS_MAX_PER_ACCOUNT: String(SUBSCRIBERS) }, { worker: false });
  const { db, services, log, actor, token } = env;
  const server = http.createServer(createApp(services));
  const realtime = attachRealtime(server, services, env.engine.notifier, log);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const flow = await services.flows.create(actor, {
    name: 'events',
    definition: 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n',
  });
  const { execution } = await services.executions.start(actor, { flowId: flow.id, input: {} });
  await db('tasks').delete(); // no worker here: the benchmark writes the events itself

  const subs = await subscribers(`ws://127.0.0.1:${port}/ws/executions/${execution.id}`, SUBSCRIBERS, EVENTS, {
    authorization: `Bearer ${token}`,
  });
  const started = Date.now();
  for (let i = 0; i < EVENTS; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, EVENTS - i) }, (_, j) => {
      const { execution_id: _unused, ...payload } = message(i + j, execution.id);
      return { type: 'log' as const, level: 'info', payload };
    });
    await db.transaction((tx) => appendEvents(tx, execution.id, batch));
  }
  await subs.all;
  const seconds = (Date.now() - started) / 1000;
  for (const ws of subs.sockets) ws.close();
  await realtime.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await env.close();
  return summary(subs.latencies(), seconds, SUBSCRIBERS * EVENTS);
}

async function main() {
  console.log(
    `FlowRunner events benchmark — ${os.cpus().length} cores; ${SUBSCRIBERS} subscribers, ${EVENTS} log events in transactions of ${BATCH}; clients in the same process as the server`,
  );
  const bare = await baseline();
  console.log(
    `baseline (bare ws broadcast): ${bare.perSecond.toFixed(0)} events/s delivered in ${bare.seconds.toFixed(1)} s; latency p50 ${bare.p50} ms, p99 ${bare.p99} ms`,
  );
  const ours = await flowrunner();
  console.log(
    `FlowRunner (PostgreSQL → LISTEN → hub → sockets): ${ours.perSecond.toFixed(0)} events/s delivered in ${ours.seconds.toFixed(1)} s; latency p50 ${ours.p50} ms, p99 ${ours.p99} ms`,
  );
  console.log(`ratio: ${(ours.perSecond / bare.perSecond).toFixed(2)} of the bare broadcast rate`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
