/**
 * What the machine can do without FlowRunner, measured in the same run: single-row INSERT commits
 * on the scratch database over one connection and over many (where PostgreSQL groups concurrent
 * commits into one WAL flush: "what PostgreSQL can commit"), the same with a NOTIFY in each
 * transaction, and a bare Express JSON handler under the same load generator.
 */
import pg from 'pg';
import type { LoadGenerator, LoadResult } from './loadgen';
import { startBareExpress } from './processes';

/** "What PostgreSQL can commit": enough concurrent connections for group commit to show. */
export const COMMIT_CONNECTIONS = 32;

export interface CommitRate {
  connections: number;
  commits: number;
  perSecond: number;
}

/** `connections` loops, each committing one single-row INSERT at a time for `seconds`. */
export async function commitRate(
  databaseUrl: string,
  connections: number,
  seconds: number,
  opts: { notify?: boolean } = {},
): Promise<CommitRate> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      return c;
    }),
  );
  const table = `bench_commits_${connections}${opts.notify ? '_notify' : ''}`;
  await clients[0].query(
    `create table ${table} (id bigserial primary key, payload jsonb not null, at timestamptz not null default now())`,
  );
  // With a NOTIFY the INSERT and the NOTIFY are one statement, so both cases stay one round trip and one commit.
  const sql = opts.notify
    ? `with i as (insert into ${table} (payload) values ($1) returning id) select pg_notify('bench_commits', id::text) from i`
    : `insert into ${table} (payload) values ($1)`;
  let commits = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) {
        await c.query(sql, ['{"k":"v"}']);
        commits++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await clients[0].query(`drop table ${table}`);
  await Promise.all(clients.map((c) => c.end()));
  return { connections, commits, perSecond: commits / elapsed };
}

/** req/s of a bare Express 5 JSON handler in a process of its own, under the benchmark's load generator. */
export async function bareExpress(load: LoadGenerator, concurrency: number, seconds: number): Promise<LoadResult> {
  const bare = await startBareExpress();
  try {
    return await load.run({
      base: bare.url,
      method: 'GET',
      path: '/execution',
      concurrency,
      seconds,
      okStatuses: [200],
    });
  } finally {
    await bare.stop();
  }
}
