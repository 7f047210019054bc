/**
 * 000's callbacks: an external service answers a waiting `callback` node through its one-time
 * URL. The token is the only credential (no account is authenticated); only its hash is stored.
 * Since the URL needs no account, calls are rate limited per token and per client address (every
 * call counts, unknown tokens too, so tokens cannot be guessed at speed).
 */
import type { Db } from '../db/knex';
import { inTransaction } from '../db/transaction';
import { callbackTokenHash } from '../engine/nodes/callback';
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from '../errors';
import { countCallbackCall } from '../repositories/callback-rate.repository';
import { appendEvents } from '../repositories/events.repository';
import { isCallbackUsed, lockCallbackWaiter, markCallbackUsed } from '../repositories/executions.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import { endWait, type WaitingFor } from './waiting';

/** The window the callback rate limits count calls in. */
export const CALLBACK_RATE_WINDOW_SECONDS = 60;

export class CallbacksService {
  constructor(
    private readonly db: Db,
    private readonly limits: { perToken: number; perIp: number },
  ) {}

  async call(
    token: string,
    outcome: string | undefined,
    output: unknown,
    clientIp: string,
  ): Promise<{ execution_id: string }> {
    const hash = callbackTokenHash(token);
    await this.countCall(hash, clientIp);
    const id = await inTransaction(this.db, async (tx) => {
      const ex = await lockCallbackWaiter(tx, hash);
      if (!ex) return undefined;
      const waiting = ex.waiting_for as WaitingFor;
      const chosen = outcome ?? 'default';
      const names = (waiting.outcomes ?? []).map((o) => o.name);
      if (!names.includes(chosen))
        throw new ValidationError(`"${chosen}" is not an outcome of this callback`, {
          field: 'outcome',
          reason: `one of ${names.join(', ')}`,
        });
      if (!(await markCallbackUsed(tx, hash, ex.id))) return undefined;
      const nodeId = waiting.node_id!;
      await endWait(tx, ex.id, { status: 'running' });
      await appendEvents(tx, ex.id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Callback received (outcome ${chosen})`,
            node_id: nodeId,
            node_type: 'callback',
            data: { outcome: chosen },
          },
        },
      ]);
      await deleteExecutionTasks(tx, ex.id);
      await insertTask(tx, {
        execution_id: ex.id,
        node_id: nodeId,
        state: { callback: { outcome: chosen, output: output ?? null } },
      });
      return ex.id;
    });
    if (id) return { execution_id: id };
    if (await isCallbackUsed(this.db, hash)) throw new ConflictError('This callback URL has already been used');
    throw new NotFoundError('Callback not found');
  }

  /** Counts the call (committed whether or not it succeeds); over either limit it is a 429. */
  private async countCall(hash: string, clientIp: string): Promise<void> {
    const counts = await countCallbackCall(this.db, [`token:${hash}`, `ip:${clientIp}`], CALLBACK_RATE_WINDOW_SECONDS);
    const over = counts.filter((c) =>
      c.key.startsWith('token:') ? c.calls > this.limits.perToken : c.calls > this.limits.perIp,
    );
    if (over.length > 0) {
      const which = over.some((c) => c.key.startsWith('token:')) ? 'for this callback URL' : 'from this address';
      throw new RateLimitedError(
        `Too many callback calls ${which}; retry after the seconds in Retry-After`,
        Math.max(...over.map((c) => c.retry_after)),
      );
    }
  }
}
