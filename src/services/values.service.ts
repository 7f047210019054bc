/** An execution's state values: read any time, changed while it waits. */
import type { Db } from '../db/knex';
import { ConflictError, NotFoundError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { lockExecution, updateExecution } from '../repositories/executions.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { inTransaction } from '../db/transaction';

export class ValuesService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  /** Masked: a value set from a secret stays a secret (executions.get masks). */
  async get(actor: Actor, id: string): Promise<Record<string, unknown>> {
    return (await this.executions.get(actor, id)).state_values;
  }

  /** One value by name; 404 when there is none (own properties only: names are data). */
  async getOne(actor: Actor, id: string, name: string): Promise<unknown> {
    const values = await this.get(actor, id);
    if (!Object.hasOwn(values, name)) throw new NotFoundError(`The execution has no value named ${name}`);
    return values[name];
  }

  async setOne(actor: Actor, id: string, name: string, value: unknown): Promise<unknown> {
    return (await this.set(actor, id, { [name]: value }))[name];
  }

  async set(actor: Actor, id: string, values: Record<string, unknown>): Promise<Record<string, unknown>> {
    const visible = await this.executions.answerable(actor, id);
    const merged = await inTransaction(this.db, async (tx) => {
      const ex = (await lockExecution(tx, id))!;
      if (ex.status !== 'waiting')
        throw new ConflictError(`Values can be changed only while the execution waits (status ${ex.status})`);
      const merged = { ...ex.state_values, ...values };
      await updateExecution(tx, id, { state_values: merged });
      await appendEvents(tx, id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Values changed by ${actor.accountId}`,
            node_id: ex.current_node,
            node_type: null,
            data: { keys: Object.keys(values) },
          },
        },
      ]);
      return merged;
    });
    return (await this.executions.maskerFor(visible)).json(merged);
  }
}
