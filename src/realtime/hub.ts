/**
 * Fans events out to this process's sockets. Events are always read from the table by seq, never
 * taken from NOTIFY payloads: a burst whose notifications coalesce is still delivered whole, in
 * order, without gaps or duplicates.
 */
import type { Db } from '../db/knex';
import type { EventRow } from '../db/tables';
import type { Notifier } from '../engine/notifier';
import type { Logger } from '../log';
import { EVENTS_CHANNEL, listEventRows } from '../repositories/events.repository';
import { findExecution } from '../repositories/executions.repository';
import { isSharedWith } from '../repositories/shares.repository';

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
  canSee(ownerId: string): boolean;
  deliver(events: EventRow[]): void;
  closed: boolean;
  /** Where it is in each execution it has heard of. */
  seqs: Map<string, number>;
}

/** The subscribers of one execution and its single reader. */
interface Channel {
  subscribers: Set<Subscriber>;
  pumping: boolean;
  dirty: boolean;
}

export class EventHub {
  private readonly channels = new Map<string, Channel>();
  private readonly accountWide = new Set<AccountSubscriber>();
  private readonly owners = new Map<string, string>();
  private readonly onEvent = (payload: string) => {
    const executionId = payload.slice(0, payload.lastIndexOf(':'));
    const channel = this.channels.get(executionId);
    if (channel) void this.pump(executionId, channel);
    if (this.accountWide.size > 0) void this.fanOutAccountWide(executionId);
  };
  private readonly onReconnect = () => {
    for (const [id, channel] of this.channels) void this.pump(id, channel);
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
    let channel = this.channels.get(s.executionId);
    if (!channel)
      this.channels.set(s.executionId, (channel = { subscribers: new Set(), pumping: false, dirty: false }));
    channel.subscribers.add(s);
    void this.pump(s.executionId, channel);
    return () => {
      channel!.subscribers.delete(s);
      if (channel!.subscribers.size === 0) this.channels.delete(s.executionId);
    };
  }

  subscribeAccountWide(s: AccountSubscriber): () => void {
    this.accountWide.add(s);
    return () => this.accountWide.delete(s);
  }

  /**
   * One reader per execution, however many sockets follow it: reads after the furthest-behind
   * subscriber and gives each the rows it has not had. One pump at a time per execution.
   */
  private async pump(executionId: string, channel: Channel): Promise<void> {
    channel.dirty = true;
    if (channel.pumping) return;
    channel.pumping = true;
    try {
      while (channel.dirty) {
        channel.dirty = false;
        for (;;) {
          const open = [...channel.subscribers].filter((s) => !s.closed);
          if (open.length === 0) break;
          const from = Math.min(...open.map((s) => s.lastSeq));
          const rows = await listEventRows(this.db, executionId, from, PAGE);
          if (rows.length === 0) break;
          for (const s of channel.subscribers) {
            if (s.closed) continue;
            const fresh = s.lastSeq <= from ? rows : rows.filter((r) => r.seq > s.lastSeq);
            if (fresh.length === 0) continue;
            s.lastSeq = fresh[fresh.length - 1].seq;
            s.deliver(fresh);
          }
          if (rows.length < PAGE) {
            // A subscriber that joined meanwhile may still be behind: go round again.
            if (open.length === channel.subscribers.size) break;
          }
        }
      }
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, execution_id: executionId },
        'cannot read events; will retry on the next notification',
      );
    } finally {
      channel.pumping = false;
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
        if (s.closed) continue;
        if (!s.canSee(owner) && !(await isSharedWith(this.db, executionId, s.accountId))) continue;
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
