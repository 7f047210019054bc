/**
 * Which database failures mean "the database is unreachable" (503), decided by the errors' types
 * where they enter: Knex's pool timeout, PostgreSQL's own SQLSTATE classes, the socket's system
 * errors, and queries that the driver failed because their connection was lost.
 */
import { KnexTimeoutError } from 'knex';
import pg from 'pg';

/** A query failed because its connection to PostgreSQL ended under it (the driver says so untyped). */
export class ConnectionLostError extends Error {
  constructor(cause: unknown) {
    super('The connection to the database was lost', { cause });
    this.name = 'ConnectionLostError';
  }
}

/** SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, restart). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123])/;

/** Network-level failures of the socket to PostgreSQL. */
const SOCKET_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof ConnectionLostError || err instanceof KnexTimeoutError) return true;
  if (err instanceof pg.DatabaseError) return UNAVAILABLE_SQLSTATE.test(err.code ?? '');
  const system = err as NodeJS.ErrnoException | undefined;
  if (system instanceof Error && typeof system.syscall === 'string') return SOCKET_ERRNOS.has(system.code ?? '');
  // pg reports a refused connection through the pool as an AggregateError of system errors.
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return false;
}

/**
 * PostgreSQL aborted a transaction only because a concurrent one conflicted with it: a
 * serialization failure (40001) or a deadlock (40P01). Running it again is the remedy
 * (db/transaction.ts does); one that still conflicts after that is a busy database, not a bug.
 */
export function isTransactionConflict(err: unknown): boolean {
  return err instanceof pg.DatabaseError && (err.code === '40001' || err.code === '40P01');
}
