/**
 * Named prepared statements for the hot path: PostgreSQL parses and plans such a statement once
 * per connection instead of at every call. They run on a connection of the Knex pool, outside
 * Knex's transactions, so each is a single statement, atomic on its own.
 */
import pg from 'pg';
import type { Knex } from 'knex';
import { ConnectionLostError } from './errors';

interface PooledConnection extends pg.Client {
  __knex__disposed?: unknown;
}

export interface PreparedStatement {
  /** Unique per statement text: a connection keeps the plan under this name. */
  name: string;
  text: string;
}

/** Runs the statement on a connection of the pool; one that failed under the query is not handed out again. */
export async function runPrepared<R extends pg.QueryResultRow>(
  db: Knex,
  statement: PreparedStatement,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  const connection = (await db.client.acquireConnection()) as PooledConnection;
  // Told like Knex's own queries, so whoever watches the database's statements sees these too.
  db.client.emit('query', { sql: statement.text, bindings: values, method: 'raw', name: statement.name });
  try {
    return await connection.query<R>({ name: statement.name, text: statement.text, values });
  } catch (err) {
    if (err instanceof pg.DatabaseError) throw err;
    connection.__knex__disposed = err;
    throw new ConnectionLostError(err);
  } finally {
    await db.client.releaseConnection(connection);
  }
}
