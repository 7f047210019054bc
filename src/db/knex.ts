import knexFactory, { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log';

export type { Knex };

// bigint counts (count(*)) come back as strings; ours stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

/** Knex's own warnings (a refused connection, say) go to our log instead of the console. */
export function createKnex(databaseUrl: string, poolMax: number, log?: Logger): Knex {
  return knexFactory({
    log: {
      warn: (m: unknown) => log?.warn({ knex: String(m) }, 'database warning'),
      error: (m: unknown) => log?.error({ knex: String(m) }, 'database error'),
      deprecate: (m: unknown) => log?.debug({ knex: String(m) }, 'database deprecation'),
      debug: (m: unknown) => log?.debug({ knex: m }, 'database debug'),
    },
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'flowrunner' },
    pool: { min: 0, max: poolMax, acquireTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}
