/**
 * Webhooks called with an execution's events (000's listeners), for one execution or every
 * execution of a flow. The signing secret is shown once and kept encrypted.
 */
import crypto from 'node:crypto';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { ListenerSecrets } from '../engine/ports';
import type { ListenerRow } from '../db/tables';
import { NotFoundError, ValidationError } from '../errors';
import {
  backfillDeliveries,
  deleteListenerRow,
  insertListener,
  listListenerRows,
  lockExecutionForListeners,
} from '../repositories/listeners.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import type { FlowsService } from './flows.service';
import type { SecretBox } from '../security/secret-box';
import { inTransaction } from '../db/transaction';

export type ListenerTarget = { execution_id: string } | { flow_id: string };

export class ListenersService implements ListenerSecrets {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
    private readonly flows: FlowsService,
    private readonly box: SecretBox,
  ) {}

  /**
   * The target's owner and organization, when the actor may see it (and, to change listeners,
   * edit it: 403 for a role below editor).
   */
  private async owner(
    actor: Actor,
    target: ListenerTarget,
    change = true,
  ): Promise<{ account_id: string; organization_id: string }> {
    if ('execution_id' in target)
      return change
        ? await this.executions.manage(actor, target.execution_id, 'change its listeners', 'edit')
        : await this.executions.get(actor, target.execution_id);
    return change ? this.flows.permitted(actor, target.flow_id, 'edit') : this.flows.get(actor, target.flow_id);
  }

  async create(
    actor: Actor,
    target: ListenerTarget,
    url: string,
    events?: string[],
  ): Promise<ListenerRow & { plainSecret: string }> {
    const owner = await this.owner(actor, target);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError('url is not a valid URL', { field: 'url', reason: 'must be an absolute http(s) URL' });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ValidationError('url must be http or https', {
        field: 'url',
        reason: 'must be an absolute http(s) URL',
      });
    const id = newId('lsn');
    const plainSecret = `whsec_${crypto.randomBytes(32).toString('base64url')}`;
    const row = await inTransaction(this.db, async (tx) => {
      if ('execution_id' in target) await lockExecutionForListeners(tx, target.execution_id);
      const created = await insertListener(tx, {
        id,
        account_id: owner.account_id,
        organization_id: owner.organization_id,
        execution_id: 'execution_id' in target ? target.execution_id : null,
        flow_id: 'flow_id' in target ? target.flow_id : null,
        url,
        events: events && events.length > 0 ? [...new Set(events)] : null,
        secret: this.box.seal(plainSecret, `listener:${id}`),
      });
      // An execution's listener also gets what happened before it was added. The execution row's
      // lock (taken first) orders this against new events, so none is missed or sent twice.
      if ('execution_id' in target) await backfillDeliveries(tx, created);
      return created;
    });
    return { ...row, plainSecret };
  }

  async list(actor: Actor, target: ListenerTarget): Promise<ListenerRow[]> {
    await this.owner(actor, target, false);
    return listListenerRows(this.db, target);
  }

  async delete(actor: Actor, target: ListenerTarget, id: string): Promise<void> {
    await this.owner(actor, target);
    if (!(await deleteListenerRow(this.db, id, target))) throw new NotFoundError('Listener not found');
  }

  /** The signing secret, for the deliverer (sealed by `create`). */
  secretOf(listener: ListenerRow): string {
    return this.box.open(listener.secret, `listener:${listener.id}`);
  }
}
