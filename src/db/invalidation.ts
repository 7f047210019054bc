/**
 * The invalidation bus of one process: what other processes (and this one) changed, so that the
 * in-memory caches in front of the database drop what is no longer true.
 *
 * Every change to cached data commits a `NOTIFY flowrunner_invalidate, '<kind>:<id>'` in its own
 * transaction (so it is sent if and only if the change commits), and the process that made it
 * also calls `changed` right after the commit, so its own next request never sees the old value.
 * The engine's LISTEN connection feeds the channel in (`received`) and says when it is up or lost:
 * caches serve and keep entries only while it listens, and every cache is cleared whenever it
 * (re)connects, so a notification missed while disconnected cannot leave a stale entry behind.
 */

/** What changed: the key each cache is invalidated by. */
export type InvalidationKind =
  /** An account's role changed or it was deleted (and with it its keys, secrets and flows); id: the account. */
  | 'account'
  /** An API key was revoked; id: its hash. */
  | 'api_key'
  /** A token was revoked (logout, refresh); id: `<jti>@<exp in epoch seconds>`. */
  | 'revocation'
  /** A flow was updated, got a new version or was deleted; id: the flow. */
  | 'flow'
  /** An organization's secrets or connections changed; id: the organization. */
  | 'secrets'
  /** A finished execution changed or was deleted (a trigger on `executions` tells); id: the execution, or `*` for all. */
  | 'execution'
  /** An account's organizations or its role in one changed; id: the account. */
  | 'membership';

const KINDS = new Set<string>(['account', 'api_key', 'revocation', 'flow', 'secrets', 'execution', 'membership']);

export function invalidationPayload(kind: InvalidationKind, id: string): string {
  return `${kind}:${id}`;
}

export class InvalidationBus {
  private readonly handlers = new Map<InvalidationKind, Set<(id: string) => void>>();
  private readonly resetHandlers = new Set<() => void>();
  private live = false;

  /** True while this process hears every change: only then may a cache keep what it read. */
  get listening(): boolean {
    return this.live;
  }

  on(kind: InvalidationKind, handler: (id: string) => void): void {
    let set = this.handlers.get(kind);
    if (!set) this.handlers.set(kind, (set = new Set()));
    set.add(handler);
  }

  /** Called when every cache must be emptied: the connection came up or went away. */
  onReset(handler: () => void): void {
    this.resetHandlers.add(handler);
  }

  /** A change this process committed: its caches drop it now rather than when the NOTIFY returns. */
  changed(kind: InvalidationKind, id: string): void {
    for (const handler of this.handlers.get(kind) ?? []) handler(id);
  }

  /** A payload from the channel; one this version does not know is ignored. */
  received(payload: string): void {
    const colon = payload.indexOf(':');
    const kind = payload.slice(0, colon);
    if (colon < 0 || !KINDS.has(kind)) return;
    this.changed(kind as InvalidationKind, payload.slice(colon + 1));
  }

  /** The LISTEN connection is up (again): whatever was cached before may have missed a change. */
  connected(): void {
    this.live = true;
    this.reset();
  }

  /** The LISTEN connection is gone: nothing is cached until it is back. */
  disconnected(): void {
    this.live = false;
    this.reset();
  }

  private reset(): void {
    for (const handler of this.resetHandlers) handler();
  }
}

/**
 * A bounded cache (least recently used goes first) that empties itself on the bus's reset. A read
 * that overlapped an invalidation is returned but not kept: it may hold what was just invalidated.
 */
export class InvalidatedCache<V> {
  private readonly entries = new Map<string, V>();
  private generation = 0;

  constructor(
    private readonly bus: InvalidationBus,
    private readonly maxEntries: number,
  ) {
    bus.onReset(() => this.clear());
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached value for `key`, or what `load` reads: kept when it is not undefined (undefined is
   * "do not cache this") and nothing was invalidated meanwhile.
   */
  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    if (this.entries.has(key)) {
      const hit = this.entries.get(key)!;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && this.bus.listening && generation === this.generation) {
      this.entries.set(key, value);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    return value;
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  deleteWhere(matches: (value: V) => boolean): void {
    this.generation++;
    for (const [key, value] of this.entries) if (matches(value)) this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
