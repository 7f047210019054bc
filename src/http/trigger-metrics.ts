/**
 * The schedules' ledger in /metrics: every due time by status and reason, read from the database
 * at scrape time, so any API process reports the due times every worker process recorded.
 */
import client from 'prom-client';
import type { Services } from '../services';
import { registry } from './metrics';

let source: Services | undefined;

new client.Gauge({
  name: 'flowrunner_schedule_times',
  help: "Schedules' due times in the ledger, by status (fired, skipped, backfilled, buffered) and skip reason",
  labelNames: ['status', 'reason'],
  registers: [registry],
  async collect() {
    this.reset();
    if (!source) return;
    try {
      for (const c of await source.schedules.ledgerCounts())
        this.set({ status: c.status, reason: c.reason ?? '' }, c.count);
    } catch (err) {
      // The database is away (or these services were stopped): the scrape goes on without the ledger.
      source.log.warn({ err: (err as Error).message }, 'the schedule ledger could not be counted for /metrics');
    }
  },
});

/** Reads the ledger's counts through these services (the process's, or the latest test server's). */
export function countScheduleTimesOf(s: Services): void {
  source = s;
}
