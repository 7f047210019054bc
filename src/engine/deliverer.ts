/**
 * Delivers listener webhooks: POSTs of the event JSON, signed, through the outbound guard, in
 * order per listener, retried with exponential backoff (1 s doubling to 1 h) for 24 hours.
 */
import type { Db } from '../db/knex';
import type { DeliveryRow } from '../db/tables';
import { toEvent } from '../presenters/executions.presenter';
import type { Logger } from '../log';
import { DELIVERIES_CHANNEL } from '../repositories/events.repository';
import {
  claimDeliveries,
  findDeliveryParts,
  markDelivered,
  markFailed,
  nextDeliveryAt,
} from '../repositories/listeners.repository';
import { signature, SIGNATURE_HEADER } from '../security/signature';
import type { HttpGuard } from './http-guard';
import { Alarm } from './alarm';
import type { Notifier } from './notifier';
import type { ListenerSecrets } from './ports';

export const GIVE_UP_AFTER_MS = 24 * 3600 * 1000;
const LOCK_SECONDS = 60;
const BATCH = 16;

export function retryDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 3600 * 1000);
}

export class Deliverer {
  private running = false;
  private readonly alarm = new Alarm();
  private loopDone: Promise<void> | undefined;
  private readonly onNotify = () => this.alarm.wake();

  constructor(
    private readonly db: Db,
    private readonly http: HttpGuard,
    private readonly listeners: ListenerSecrets,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.notifier.on(DELIVERIES_CHANNEL, this.onNotify);
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let sleepMs = 1000;
      try {
        const batch = await claimDeliveries(this.db, BATCH, LOCK_SECONDS);
        await Promise.all(batch.map((d) => this.deliver(d)));
        if (batch.length > 0) continue;
        const next = await nextDeliveryAt(this.db);
        if (next) sleepMs = Math.max(0, Math.min(sleepMs, next.getTime() - Date.now()));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'deliverer cannot reach the database');
      }
      if (!this.running) break;
      await this.alarm.sleep(sleepMs);
    }
  }

  private async deliver(d: DeliveryRow): Promise<void> {
    const parts = await findDeliveryParts(this.db, d);
    if (!parts) return;
    const body = JSON.stringify(toEvent(parts.event));
    const timestamp = Math.floor(Date.now() / 1000);
    const giveUp = Date.now() - new Date(d.created_at).getTime() > GIVE_UP_AFTER_MS;
    try {
      const res = await this.http.request({
        method: 'POST',
        url: parts.listener.url,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signature(this.listeners.secretOf(parts.listener), timestamp, body),
          'X-FlowRunner-Delivery': String(d.id),
          'X-FlowRunner-Event': parts.event.type,
        },
        body,
        timeoutMs: 10_000,
        maxResponseBytes: 64 * 1024,
      });
      if (res.status_code >= 200 && res.status_code < 300) await markDelivered(this.db, d, res.status_code);
      else await markFailed(this.db, d, `HTTP ${res.status_code}`, res.status_code, retryDelayMs(d.attempts), giveUp);
    } catch (err) {
      await markFailed(this.db, d, (err as Error).message, null, retryDelayMs(d.attempts), giveUp);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.notifier.off(DELIVERIES_CHANNEL, this.onNotify);
    this.alarm.wake();
    await this.loopDone;
  }
}
