/**
 * Fans events out to this process's sockets. Events are always read from the table by seq, never
 * taken from NOTIFY payloads: a burst whose notifications coalesce is still delivered whole, in
 * order, without gaps or duplicates. Reads are shared, never per socket: one per page of an
 * execution's events for the sockets that follow it, one for all the account-wide streams.
 */
import type { Db } from '../db/knex';
import type { EventRow } from '../db/tables';
import type { Notifier } from '../engine/notifier';
import type { Logger } from '../log';
import { EVENTS_CHANNEL, listEventRows, listEventRowsForReaders } from '../repositories/events.repository';
import { findExecution } from '../repositories/executions.repository';

const PAGE = 500;

/** One reader of one execution's events, from `lastSeq` on. */
export interface Subscriber {
  executionId: string;
  lastSeq: number;
  deliver(events: EventRow[]): void;
  closed: boolean;
}

/** A reader of every execution an account may see (the dashboard stream). */
export interface AccountSubscriber {
  /** The subscriber's account, for executions shared with it. */
  accountId: string;
  /** Whether it may see the executions of this organization (a member, or an admin). */
  canSee(organizationId: string): boolean;
  deliver(events: EventRow[]): void;
  closed: boolean;
  /** Where it is in each execution it has heard of. */
  seqs: Map<string, number>;
}

/**
 * One read at a time per key; requests that arrive while it runs fold into one more round, so a
 * burst of notifications costs a read or two, not one each.
 */
class SharedReads {
  private readonly running = new Map<string, { again: boolean }>();

  async run(key: string, read: () => Promise<void>): Promise<void> {
    const current = this.running.get(key);
    if (current) {
      current.again = true;
      return;
    }
    const state = { again: true };
    this.running.set(key, state);
    try {
      while (state.again) {
        state.again = false;
        await read();
      }
    } finally {
      this.running.delete(key);
    }
  }
}

export class EventHub {
  /** The followers of each execution. */
  private readonly followers = new Map<string, Set<Subscriber>>();
  private readonly accountWide = new Set<AccountSubscriber>();
  /** Executions never change organization, so each one's is looked up once. */
  private readonly owners = new Map<string, string>();
  private readonly reads = new SharedReads();
  /** The payload names one or more executions with their last seq: `id:seq[,id:seq…]`. */
  private readonly onEvent = (payload: string) => {
    for (const item of payload.split(',')) {
      const executionId = item.slice(0, item.lastIndexOf(':'));
      if (this.followers.has(executionId)) this.pump(executionId);
      if (this.accountWide.size > 0) this.fanOutAccountWide(executionId);
    }
  };
  private readonly onReconnect = () => {
    for (const id of this.followers.keys()) this.pump(id);
  };

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {
    notifier.on(EVENTS_CHANNEL, this.onEvent);
    notifier.on('reconnected', this.onReconnect);
  }

  /** Subscribes, then reads from `lastSeq`: nothing written in between is missed. */
  subscribe(s: Subscriber): () => void {
    let followers = this.followers.get(s.executionId);
    if (!followers) this.followers.set(s.executionId, (followers = new Set()));
    followers.add(s);
    this.pump(s.executionId);
    return () => {
      followers.delete(s);
      if (followers.size === 0 && this.followers.get(s.executionId) === followers) this.followers.delete(s.executionId);
    };
  }

  subscribeAccountWide(s: AccountSubscriber): () => void {
    this.accountWide.add(s);
    return () => this.accountWide.delete(s);
  }

  private pump(executionId: string): void {
    this.reads
      .run(`follow:${executionId}`, () => this.readForFollowers(executionId))
      .catch((err) =>
        this.log.warn(
          { err: (err as Error).message, execution_id: executionId },
          'cannot read events; will retry on the next notification',
        ),
      );
  }

  /**
   * One reader per execution, however many sockets follow it: reads after the furthest-behind
   * follower and gives each the rows it has not had.
   */
  private async readForFollowers(executionId: string): Promise<void> {
    for (;;) {
      const followers = this.followers.get(executionId) ?? new Set<Subscriber>();
      const open = [...followers].filter((s) => !s.closed);
      if (open.length === 0) return;
      const from = Math.min(...open.map((s) => s.lastSeq));
      const rows = await listEventRows(this.db, executionId, from, PAGE);
      if (rows.length === 0) return;
      for (const s of followers) {
        if (s.closed) continue;
        const fresh = s.lastSeq <= from ? rows : rows.filter((r) => r.seq > s.lastSeq);
        if (fresh.length === 0) continue;
        s.lastSeq = fresh[fresh.length - 1].seq;
        s.deliver(fresh);
      }
      // A follower that joined meanwhile may still be behind: go round again.
      if (rows.length < PAGE && open.length === followers.size) return;
    }
  }

  private async ownerOf(executionId: string): Promise<string | undefined> {
    let owner = this.owners.get(executionId);
    if (!owner) {
      owner = (await findExecution(this.db, executionId))?.organization_id;
      if (owner) {
        if (this.owners.size > 10_000) this.owners.clear();
        this.owners.set(executionId, owner);
      }
    }
    return owner;
  }

  private fanOutAccountWide(executionId: string): void {
    this.reads
      .run(`account-wide:${executionId}`, () => this.readForAccountWide(executionId))
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot fan out to account-wide streams'));
  }

  /**
   * One read per page for all account-wide streams, however many: it brings the events after the
   * furthest-behind stream that may see the execution and the share list that says which may.
   */
  private async readForAccountWide(executionId: string): Promise<void> {
    const owner = await this.ownerOf(executionId);
    if (!owner) return;
    for (;;) {
      const open = [...this.accountWide].filter((s) => !s.closed);
      if (open.length === 0) return;
      // Heard of for the first time: from the start of the execution's events.
      const after = (s: AccountSubscriber) => s.seqs.get(executionId) ?? 0;
      const { sharedWith, rows } = await listEventRowsForReaders(
        this.db,
        executionId,
        open.map((s) => ({ accountId: s.accountId, after: after(s), canSee: s.canSee(owner) })),
        PAGE,
      );
      for (const s of open) {
        if (s.closed || !(s.canSee(owner) || sharedWith.includes(s.accountId))) continue;
        const fresh = rows.filter((r) => r.seq > after(s));
        if (fresh.length === 0) continue;
        s.seqs.set(executionId, fresh[fresh.length - 1].seq);
        s.deliver(fresh);
      }
      if (rows.length < PAGE) return;
    }
  }

  close(): void {
    this.notifier.off(EVENTS_CHANNEL, this.onEvent);
    this.notifier.off('reconnected', this.onReconnect);
  }
}
