/**
 * Counts what a process asks of PostgreSQL, by wrapping `pg.Client.prototype.query` (Knex, the
 * LISTEN connection and any raw `pg` use all go through it). Each call is one statement and one
 * round trip. A transaction is a BEGIN…COMMIT block, or a statement sent outside one (PostgreSQL
 * commits it on its own); it "writes" when one of its statements inserts, updates, deletes, locks
 * rows or notifies. `pg_stat_database` would count the same commits, but it is flushed lazily (up
 * to 10 s late for an idle backend), so a window's delta is not exact; these counts are.
 */
import pg from 'pg';

export interface StatementCounts {
  statements: number;
  readOnly: number;
  /** Transactions committed: COMMITs, and statements sent outside a transaction. */
  commits: number;
  /** Those of them that wrote, and so waited for a WAL flush. */
  writeCommits: number;
  rollbacks: number;
  notifies: number;
}

const WRITES = /\b(insert|update|delete|for update|for no key update|pg_notify|notify)\b/i;
const NOTIFY = /\b(pg_notify|notify)\b/i;

export const counts: StatementCounts = {
  statements: 0,
  readOnly: 0,
  commits: 0,
  writeCommits: 0,
  rollbacks: 0,
  notifies: 0,
};

interface Open {
  writes: boolean;
}
const open = new WeakMap<object, Open>();

function textOf(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  if (arg && typeof arg === 'object' && 'text' in arg && typeof arg.text === 'string') return arg.text;
  return '';
}

type Kind = 'begin' | 'commit' | 'rollback' | { writes: boolean; notifies: boolean };

/**
 * What a statement text is, remembered by text: the hot path's statements are a few long texts
 * sent again and again, and scanning each for keywords at every call cost the measured process
 * about 5 % of its CPU. Bounded, since Knex inlines nothing but other texts may vary.
 */
const kinds = new Map<string, Kind>();

function kindOf(text: string): Kind {
  let kind = kinds.get(text);
  if (kind) return kind;
  const head = text.trimStart().slice(0, 12).toLowerCase();
  if (/^(begin|start)/.test(head)) kind = 'begin';
  else if (/^(commit|end)/.test(head)) kind = 'commit';
  else if (/^rollback(?! to)/.test(head)) kind = 'rollback';
  else kind = { writes: WRITES.test(text), notifies: NOTIFY.test(text) };
  if (kinds.size >= 10_000) kinds.clear();
  kinds.set(text, kind);
  return kind;
}

function count(client: object, text: string): void {
  const kind = kindOf(text);
  counts.statements++;
  if (kind === 'begin') {
    open.set(client, { writes: false });
    counts.readOnly++;
    return;
  }
  if (kind === 'commit') {
    const tx = open.get(client);
    open.delete(client);
    counts.commits++;
    if (tx?.writes) counts.writeCommits++;
    counts.readOnly++;
    return;
  }
  if (kind === 'rollback') {
    open.delete(client);
    counts.rollbacks++;
    counts.readOnly++;
    return;
  }
  const { writes, notifies } = kind;
  if (notifies) counts.notifies++;
  if (!writes) counts.readOnly++;
  const tx = open.get(client);
  if (tx) tx.writes ||= writes;
  else {
    counts.commits++;
    if (writes) counts.writeCommits++;
  }
}

let installed = false;

/** Starts counting for the rest of the process's life. */
export function countStatements(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query;
  // Any signature pg accepts (text, config, Submittable, with or without a callback) passes through.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count(this, textOf(args[0]));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
}
