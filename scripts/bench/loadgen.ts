/**
 * The load generator of the benchmarks: a child process of its own, so its CPU and event loop are
 * not the server's. N loops each send one request at a time over a keep-alive `http.Agent` (plain
 * `http.request`: `fetch` alone costs ~0.35 ms of client CPU per request here) for S seconds, or
 * until a request budget is spent, and report requests/s and latency percentiles.
 *
 * Run as a child (`fork`) it answers jobs over IPC; `LoadGenerator` is the parent's side.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { percentile } from './report';

export interface LoadJob {
  base: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  concurrency: number;
  seconds: number;
  /** Stop after this many requests in all, even before `seconds` are over. */
  maxRequests?: number;
  /** Statuses that count as success; others are counted by status. */
  okStatuses: number[];
  /** When set, a success must also carry this `status` in its JSON body (run-and-wait). */
  bodyStatus?: string;
}

export interface LoadResult {
  requests: number;
  ok: number;
  /** Failures by HTTP status (or `error: <code>` for a socket error, `body: <status>` for a wrong body). */
  failures: Record<string, number>;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function once(agent: http.Agent, url: URL, job: LoadJob, payload: string | undefined) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const headers: Record<string, string | number> = { ...job.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request(url, { method: job.method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const url = new URL(job.path, job.base);
  const payload = job.body === undefined ? undefined : JSON.stringify(job.body);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
  let sent = 0;
  let ok = 0;
  const started = performance.now();
  const end = started + job.seconds * 1000;
  const budget = job.maxRequests ?? Infinity;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end && sent < budget) {
        sent++;
        const t0 = performance.now();
        try {
          const res = await once(agent, url, job, payload);
          latencies.push(performance.now() - t0);
          if (!job.okStatuses.includes(res.status)) fail(String(res.status));
          else if (job.bodyStatus !== undefined && JSON.parse(res.body).status !== job.bodyStatus) {
            fail(`body: ${String(JSON.parse(res.body).status)}`);
          } else ok++;
        } catch (err) {
          fail(`error: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: sent,
    ok,
    failures,
    seconds,
    perSecond: ok / seconds,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
  };
}

/** The parent's handle on a load-generator child process. */
export class LoadGenerator {
  private readonly child: ChildProcess;
  private next = 0;
  private readonly waiting = new Map<number, { resolve(r: LoadResult): void; reject(e: Error): void }>();

  constructor() {
    this.child = fork(__filename, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_ROLE: 'loadgen' },
    });
    this.child.on('message', (m: { id: number; result?: LoadResult; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.result) w?.resolve(m.result);
      else w?.reject(new Error(`load generator: ${m.error}`));
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load generator exited (${code})`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  run(job: LoadJob): Promise<LoadResult> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, job });
    });
  }

  close(): void {
    this.child.disconnect();
  }
}

if (process.env.BENCH_ROLE === 'loadgen' && process.send) {
  process.on('message', (m: { id: number; job: LoadJob }) => {
    runLoad(m.job).then(
      (result) => process.send!({ id: m.id, result }),
      (err: unknown) => process.send!({ id: m.id, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
