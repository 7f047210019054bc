/**
 * Fans events out to this process's sockets. Events are always read from the table by seq, never
 * taken from NOTIFY payloads: a burst whose notifications coalesce is still delivered whole, in
 * order, without gaps or duplicates.
 */
import type { Knex } from 'knex';
import type { EventRow } from '../db/tables';
import type { Notifier } from '../engine/notifier';
import type { Logger } from '../log';
import { EVENTS_CHANNEL, listEventRows } from '../repositories/events.repository';
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
  canSee(accountId: string): boolean;
  deliver(events: EventRow[]): void;
  closed: boolean;
  /** Where it is in each execution it has heard of. */
  seqs: Map<string, number>;
}

export class EventHub {
  private readonly byExecution = new Map<string, Set<Subscriber>>();
  private readonly accountWide = new Set<AccountSubscriber>();
  private readonly pumping = new WeakMap<object, { dirty: boolean }>();
  private readonly owners = new Map<string, string>();
  private readonly onEvent = (payload: string) => {
    const executionId = payload.slice(0, payload.lastIndexOf(':'));
    for (const s of this.byExecution.get(executionId) ?? []) void this.pump(s);
    if (this.accountWide.size > 0) void this.fanOutAccountWide(executionId);
  };
  private readonly onReconnect = () => {
    for (const set of this.byExecution.values()) for (const s of set) void this.pump(s);
  };

  constructor(
    private readonly db: Knex,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {
    notifier.on(EVENTS_CHANNEL, this.onEvent);
    notifier.on('reconnected', this.onReconnect);
  }

  /** Subscribes, then reads from `lastSeq`: nothing written in between is missed. */
  subscribe(s: Subscriber): () => void {
    let set = this.byExecution.get(s.executionId);
    if (!set) this.byExecution.set(s.executionId, (set = new Set()));
    set.add(s);
    void this.pump(s);
    return () => {
      set!.delete(s);
      if (set!.size === 0) this.byExecution.delete(s.executionId);
    };
  }

  subscribeAccountWide(s: AccountSubscriber): () => void {
    this.accountWide.add(s);
    return () => this.accountWide.delete(s);
  }

  /** Sends everything after the subscriber's seq; one pump at a time per subscriber. */
  private async pump(s: Subscriber): Promise<void> {
    const state = this.pumping.get(s);
    if (state) {
      state.dirty = true;
      return;
    }
    const mine = { dirty: true };
    this.pumping.set(s, mine);
    try {
      while (mine.dirty && !s.closed) {
        mine.dirty = false;
        for (;;) {
          const rows = await listEventRows(this.db, s.executionId, s.lastSeq, PAGE);
          if (rows.length === 0 || s.closed) break;
          s.lastSeq = rows[rows.length - 1].seq;
          s.deliver(rows);
          if (rows.length < PAGE) break;
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, execution_id: s.executionId }, 'cannot read events; will retry on the next notification');
    } finally {
      this.pumping.delete(s);
    }
  }

  private async ownerOf(executionId: string): Promise<string | undefined> {
    let owner = this.owners.get(executionId);
    if (!owner) {
      owner = (await findExecution(this.db, executionId))?.account_id;
      if (owner) {
        if (this.owners.size > 10_000) this.owners.clear();
        this.owners.set(executionId, owner);
      }
    }
    return owner;
  }

  private async fanOutAccountWide(executionId: string): Promise<void> {
    try {
      const owner = await this.ownerOf(executionId);
      if (!owner) return;
      for (const s of this.accountWide) {
        if (s.closed || !s.canSee(owner)) continue;
        // Heard of for the first time: from the start of the execution's events.
        const from = s.seqs.get(executionId) ?? 0;
        const rows = await listEventRows(this.db, executionId, from, PAGE);
        const fresh = rows.filter((r) => r.seq > (s.seqs.get(executionId) ?? 0));
        if (fresh.length === 0) continue;
        s.seqs.set(executionId, fresh[fresh.length - 1].seq);
        s.deliver(fresh);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot fan out to account-wide streams');
    }
  }

  close(): void {
    this.notifier.off(EVENTS_CHANNEL, this.onEvent);
    this.notifier.off('reconnected', this.onReconnect);
  }
}
