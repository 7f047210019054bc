import knexFactory, { Knex } from 'knex';
import pg from 'pg';

export type { Knex };

// bigint counts (count(*)) come back as strings; ours stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export function createKnex(databaseUrl: string, poolMax: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'flowrunner' },
    pool: { min: 0, max: poolMax, acquireTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}
