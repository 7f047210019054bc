/**
 * 001's flow requests: what someone asks a flow to do. They belong to an organization like every
 * other object (the flow's, when they name one); a start that references one keeps a copy of it (see `snapshotFor`).
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
import { existingOrganizationFor } from './organization-for';
import { ownerFilter, permittedOrForbidden, visibleOrNotFound } from './ownership';

export interface FlowRequestInput {
  name?: string | null;
  instructions: string;
  metadata?: Record<string, unknown>;
  flow_id?: string | null;
  organization_id?: string;
}

export class FlowRequestsService {
  constructor(
    private readonly db: Db,
    private readonly flows: FlowsService,
  ) {}

  /**
   * A flow named by a request must be one the actor sees (404 otherwise, as the flow itself), of
   * the request's organization (422); returns that flow's organization.
   */
  private async checkFlow(
    actor: Actor,
    flowId: string | null | undefined,
    organizationId?: string,
  ): Promise<string | undefined> {
    if (!flowId) return undefined;
    const flow = await this.flows.get(actor, flowId);
    if (organizationId !== undefined && flow.organization_id !== organizationId)
      throw new ValidationError('The flow belongs to another organization than the flow request', {
        field: 'flow_id',
        reason: `the flow is of ${flow.organization_id}, the request of ${organizationId}`,
      });
    return flow.organization_id;
  }

  async create(actor: Actor, input: FlowRequestInput): Promise<FlowRequestRow> {
    const flowOrganization = await this.checkFlow(actor, input.flow_id, input.organization_id);
    const organizationId = await existingOrganizationFor(
      this.db,
      actor,
      input.organization_id ?? flowOrganization,
      'flow requests',
    );
    return insertFlowRequest(this.db, {
      id: newId('freq'),
      account_id: actor.accountId,
      organization_id: organizationId,
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

  async list(actor: Actor, filter: { flowId?: string; organization?: string; limit: number; offset: number }) {
    return listFlowRequestRows(this.db, { ...filter, ...ownerFilter(actor, filter.organization) });
  }

  async update(actor: Actor, id: string, changes: Partial<FlowRequestInput>): Promise<FlowRequestRow> {
    const current = permittedOrForbidden(actor, await findFlowRequest(this.db, id), 'edit', 'Flow request');
    await this.checkFlow(actor, changes.flow_id, current.organization_id);
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
    permittedOrForbidden(actor, await findFlowRequest(this.db, id), 'edit', 'Flow request');
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
