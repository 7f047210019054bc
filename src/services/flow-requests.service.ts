/**
 * 001's flow requests: what someone asks a flow to do. They belong to an account like every
 * other object; a start that references one keeps a copy of it (see `snapshotFor`).
 */
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { FlowRequestRow, FlowRequestSnapshot } from '../db/tables';
import { ValidationError } from '../errors';
import {
  deleteFlowRequestRow,
  findFlowRequest,
  insertFlowRequest,
  listFlowRequestRows,
  updateFlowRequestRow,
} from '../repositories/flow-requests.repository';
import type { Actor } from './actor';
import type { FlowsService } from './flows.service';
import { ownerFilter, visibleOrNotFound } from './ownership';

export interface FlowRequestInput {
  name?: string | null;
  instructions: string;
  metadata?: Record<string, unknown>;
  flow_id?: string | null;
}

export class FlowRequestsService {
  constructor(
    private readonly db: Db,
    private readonly flows: FlowsService,
  ) {}

  /** A flow named by a request must be one the actor sees (404 otherwise, as the flow itself). */
  private async checkFlow(actor: Actor, flowId: string | null | undefined): Promise<void> {
    if (flowId) await this.flows.get(actor, flowId);
  }

  async create(actor: Actor, input: FlowRequestInput): Promise<FlowRequestRow> {
    await this.checkFlow(actor, input.flow_id);
    return insertFlowRequest(this.db, {
      id: newId('freq'),
      account_id: actor.accountId,
      name: input.name ?? null,
      instructions: input.instructions,
      metadata: input.metadata ?? {},
      flow_id: input.flow_id ?? null,
      created_by: actor.accountId,
      updated_by: actor.accountId,
    });
  }

  async get(actor: Actor, id: string): Promise<FlowRequestRow> {
    return visibleOrNotFound(actor, await findFlowRequest(this.db, id), 'Flow request');
  }

  async list(actor: Actor, filter: { flowId?: string; limit: number; offset: number }) {
    return listFlowRequestRows(this.db, { ...filter, accountId: ownerFilter(actor) });
  }

  async update(actor: Actor, id: string, changes: Partial<FlowRequestInput>): Promise<FlowRequestRow> {
    await this.get(actor, id);
    await this.checkFlow(actor, changes.flow_id);
    const row = await updateFlowRequestRow(this.db, id, {
      name: changes.name,
      instructions: changes.instructions,
      metadata: changes.metadata,
      flow_id: changes.flow_id,
      updated_by: actor.accountId,
    });
    return visibleOrNotFound(actor, row, 'Flow request');
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await this.get(actor, id);
    await deleteFlowRequestRow(this.db, id);
  }

  /**
   * What a start of `flowId` keeps of the request it names: the request must be the actor's
   * (404), and when it names a flow, that flow (422, on `flow_request_id`).
   */
  async snapshotFor(actor: Actor, id: string, flowId: string): Promise<FlowRequestSnapshot> {
    const row = await this.get(actor, id);
    if (row.flow_id !== null && row.flow_id !== flowId)
      throw new ValidationError(`The flow request is for flow ${row.flow_id}, not ${flowId}`, {
        field: 'flow_request_id',
        reason: `is for flow ${row.flow_id}`,
      });
    return { id: row.id, name: row.name, instructions: row.instructions, metadata: row.metadata };
  }
}
