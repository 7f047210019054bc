/** Answering an input wait: the outcome and values are checked against the node, then handed to the engine. */
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { nodeOf } from '../engine/definition';
import { checkAgainstSchema } from '../engine/user-schemas';
import { ConflictError, ValidationError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { endWait, lockWaiting } from './waiting';
import { inTransaction } from '../db/transaction';

export class InputsService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async signal(
    actor: Actor,
    id: string,
    nodeId: string,
    outcome: string,
    values: Record<string, unknown>,
  ): Promise<ExecutionRow> {
    const visible = await this.executions.answerable(actor, id);
    const document = await this.executions.pinnedDocument(visible);
    await inTransaction(this.db, async (tx) => {
      const { waiting } = await lockWaiting(tx, id, 'input');
      if (waiting.node_id !== nodeId)
        throw new ConflictError(`The execution waits at node "${waiting.node_id}", not "${nodeId}"`, {
          field: 'node_id',
          reason: `waiting at ${waiting.node_id}`,
        });
      const names = (waiting.outcomes ?? []).map((o) => o.name);
      if (!names.includes(outcome))
        throw new ValidationError(`"${outcome}" is not an outcome of node ${nodeId}`, {
          field: 'outcome',
          reason: `one of ${names.join(', ')}`,
        });
      const schema = nodeOf(document, nodeId)?.params?.values_schema as Record<string, unknown> | undefined;
      if (schema)
        checkAgainstSchema(
          `${visible.flow_id}@${visible.flow_version}#${nodeId}`,
          schema,
          values,
          'values',
          `The values do not match node ${nodeId}'s values_schema`,
        );
      await endWait(tx, id, { status: 'running' });
      await appendEvents(tx, id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Input "${outcome}" given by ${actor.accountId}`,
            node_id: nodeId,
            node_type: 'input',
            data: { outcome, actor_id: actor.accountId },
          },
        },
      ]);
      await deleteExecutionTasks(tx, id);
      await insertTask(tx, {
        execution_id: id,
        node_id: nodeId,
        state: { signal: { outcome, values, actor_id: actor.accountId } },
      });
    });
    return this.executions.get(actor, id);
  }
}
