import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log';
import { ConnectionLostError } from './errors';

export type { Knex };
/** What services and the engine hold: the database, or a transaction on it. */
export type Db = Knex;
export type Tx = Knex.Transaction;

/** The parts of pg's client that say it can no longer run a query (pg sets them; Knex adds its flag). */
interface PgConnectionState {
  _ending?: boolean;
  _ended?: boolean;
  _connectionError?: boolean;
  __knex__disposed?: unknown;
}
type QueryRunner = (connection: PgConnectionState, obj: unknown) => Promise<unknown>;

// Knex's PostgreSQL dialect, extended where a query's error enters: pg fails the queries of a
// connection that ended with plain Errors, so they are typed here, by the connection's state.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PgDialect = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => Knex.Client;
class PgClient extends PgDialect {
  _query(connection: PgConnectionState, obj: unknown): Promise<unknown> {
    const run = (PgDialect.prototype as unknown as { _query: QueryRunner })._query;
    return run.call(this, connection, obj).catch((err: unknown) => {
      const lost =
        connection._ending || connection._ended || connection._connectionError || connection.__knex__disposed;
      throw lost && !(err instanceof pg.DatabaseError) ? new ConnectionLostError(err) : err;
    });
  }
}

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
    client: PgClient as unknown as typeof Knex.Client,
    connection: { connectionString: databaseUrl, application_name: 'flowrunner' },
    pool: { min: 0, max: poolMax, acquireTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}
