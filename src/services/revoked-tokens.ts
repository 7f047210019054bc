/**
 * The revoked token ids that still matter (their token has not expired), held in memory: loaded
 * once the LISTEN connection is up, then kept current by `revocation` notifications, so checking
 * a token reads nothing. Until it is loaded (start-up, a lost connection) `isRevoked` says it does
 * not know and the caller asks the database.
 */
import type { InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import type { Logger } from '../log';
import { listLiveRevocations } from '../repositories/tokens.repository';

const MIN_SWEEP_SIZE = 1024;

/** The notification's id for a revoked token: its jti and when it would have expired. */
export function revocationId(jti: string, expiresAt: Date): string {
  return `${jti}@${Math.ceil(expiresAt.getTime() / 1000)}`;
}

export class RevokedTokens {
  /** jti → when its token expires (ms). */
  private readonly expiries = new Map<string, number>();
  private loaded = false;
  private loading: Promise<void> | undefined;
  private generation = 0;
  private sweepAt = MIN_SWEEP_SIZE;

  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
    private readonly log: Logger,
  ) {
    bus.on('revocation', (id) => {
      const at = id.lastIndexOf('@');
      const exp = Number(id.slice(at + 1));
      if (at > 0 && Number.isFinite(exp)) this.add(id.slice(0, at), exp * 1000);
    });
    bus.onReset(() => {
      this.generation++;
      this.loaded = false;
      this.expiries.clear();
      if (bus.listening) void this.load();
    });
  }

  /** Whether the token was revoked; undefined while the set is not loaded. */
  isRevoked(jti: string): boolean | undefined {
    if (!this.loaded) {
      if (this.bus.listening) void this.load();
      return undefined;
    }
    return this.expiries.has(jti);
  }

  private add(jti: string, expiresAtMs: number): void {
    this.expiries.set(jti, expiresAtMs);
    if (this.expiries.size < this.sweepAt) return;
    // Expired tokens are refused before their revocation is looked at.
    const now = Date.now();
    for (const [id, exp] of this.expiries) if (exp <= now) this.expiries.delete(id);
    this.sweepAt = Math.max(MIN_SWEEP_SIZE, this.expiries.size * 2);
  }

  /** Notifications that arrive while the rows are read are kept: they are newer than the read. */
  private load(): Promise<void> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    this.loading = listLiveRevocations(this.db)
      .then((rows) => {
        // A reset came meanwhile: the rows may predate a change that is now lost; read again later.
        if (generation !== this.generation) return;
        for (const r of rows) if (!this.expiries.has(r.jti)) this.add(r.jti, r.expires_at.getTime());
        this.loaded = true;
      })
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'could not load revoked tokens; checking each in the database');
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
