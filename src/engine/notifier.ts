/**
 * One LISTEN connection per process: workers wake on new tasks and abort the steps of cancelled
 * executions, the deliverer wakes on new deliveries, the WebSocket hub fans events out. It
 * reconnects with backoff when PostgreSQL goes away, says `disconnected` when it does (caches stop
 * trusting themselves) and `reconnected` when it is back, so listeners poll.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../log';

export class Notifier extends EventEmitter {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly channels: string[],
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.connect().catch(() => this.reconnectLater());
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'flowrunner-listen' });
    client.on('notification', (n) => this.emit(n.channel, n.payload ?? ''));
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'notification connection lost');
      this.reconnectLater();
    });
    client.on('end', () => this.reconnectLater());
    await client.connect();
    for (const channel of this.channels) await client.query(`listen "${channel}"`);
    this.client = client;
    this.retryMs = 250;
    // Whatever was notified while disconnected is found by a poll.
    this.emit('reconnected');
  }

  private reconnectLater(): void {
    if (this.stopped || this.timer) return;
    this.emit('disconnected');
    void this.discard(this.client);
    this.client = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.connect().catch(() => this.reconnectLater());
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await this.discard(c);
  }

  /** Closes a connection we are done with; whatever it still reports is of no interest. */
  private async discard(client: pg.Client | undefined): Promise<void> {
    if (!client) return;
    client.removeAllListeners();
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
  }
}
