/**
 * Starting, reading and cancelling executions. A start pins the flow's current version, checks the
 * input against its `inputs` schema, honours an Idempotency-Key, and queues the entry node — in
 * one transaction.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { ValidateFunction } from 'ajv';
import { newId } from '../db/ids';
import { FINAL_STATUSES, type ExecutionRow, type ExecutionStatus, type FlowVersionRow } from '../db/tables';
import { ajv, type FlowDocument } from '../engine/definition';
import { CANCEL_CHANNEL } from '../engine/notifier';
import { ConflictError, InvalidRequestError, ValidationError } from '../errors';
import { appendEvents, listEventRows, listLogRows } from '../repositories/events.repository';
import { findExecution, insertExecution, listExecutionRows, lockExecution, updateExecution } from '../repositories/executions.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import { claimIdempotencyKey } from '../repositories/idempotency.repository';
import { insertStep, listStepRows } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import type { FlowsService } from './flows.service';
import { ownerFilter, visibleOrNotFound } from './ownership';

export interface StartRequest {
  flowId: string;
  input: Record<string, unknown>;
  clientId?: string;
  idempotencyKey?: string;
}

export interface ListRequest {
  flowId?: string;
  status?: ExecutionStatus;
  clientId?: string;
  cursor?: string;
  limit: number;
  offset: number;
}

/** JSON with sorted keys: two bodies that mean the same hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function encodeCursor(id: string): string {
  return Buffer.from(JSON.stringify({ id })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const { id } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof id === 'string' && id.startsWith('exec-')) return id;
  } catch {
    // fall through
  }
  throw new InvalidRequestError('The cursor is not one this API returned', { field: 'cursor', reason: 'pass next_cursor from a previous page' });
}

export class ExecutionsService {
  private readonly inputValidators = new Map<string, ValidateFunction>();

  constructor(
    private readonly db: Knex,
    private readonly flows: FlowsService,
  ) {}

  async start(actor: Actor, req: StartRequest): Promise<{ execution: ExecutionRow; replayed: boolean }> {
    const flow = await this.flows.get(actor, req.flowId);
    const version = (await findFlowVersion(this.db, flow.id, flow.current_version))!;
    this.checkInput(version, req.input);
    const id = newId('exec');
    const outcome = await this.db.transaction(async (tx) => {
      if (req.idempotencyKey !== undefined) {
        const hash = crypto.createHash('sha256').update(canonical({ flow_id: flow.id, input: req.input, client_id: req.clientId ?? null })).digest('hex');
        const claim = await claimIdempotencyKey(tx, { account_id: actor.accountId, key: req.idempotencyKey, request_hash: hash, execution_id: id });
        if (!claim.claimed) {
          if (claim.request_hash !== hash) {
            throw new ConflictError('This Idempotency-Key was used with a different request', { field: 'Idempotency-Key', reason: 'use a new key for a different request' });
          }
          return { replayOf: claim.execution_id };
        }
      }
      const document = version.document as FlowDocument;
      const execution = await insertExecution(tx, {
        id,
        account_id: flow.account_id,
        flow_id: flow.id,
        flow_version: version.number,
        status: 'queued',
        client_id: req.clientId ?? null,
        input: req.input,
      });
      await appendEvents(tx, id, [{ type: 'execution_update', payload: { status: 'queued', node_id: null, node_type: null } }]);
      await insertTask(tx, { execution_id: id, node_id: document.entry! });
      return { execution };
    });
    if ('replayOf' in outcome) return { execution: (await findExecution(this.db, outcome.replayOf!))!, replayed: true };
    return { execution: outcome.execution, replayed: false };
  }

  private checkInput(version: FlowVersionRow, input: Record<string, unknown>): void {
    const schema = (version.document as FlowDocument).inputs;
    if (!schema) return;
    const key = `${version.flow_id}@${version.number}`;
    let validate = this.inputValidators.get(key);
    if (!validate) {
      validate = ajv.compile(schema);
      this.inputValidators.set(key, validate);
    }
    if (!validate(input)) {
      const errors = (validate.errors ?? []).map((e) => {
        const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
        const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return { field: ['input', path, missing].filter(Boolean).join('.'), reason: e.message ?? 'is invalid' };
      });
      throw new ValidationError(`The input does not match the flow's inputs schema: ${errors[0].field} ${errors[0].reason}`, { field: errors[0].field, reason: errors[0].reason, errors });
    }
  }

  async get(actor: Actor, id: string): Promise<ExecutionRow> {
    return visibleOrNotFound(actor, await findExecution(this.db, id), 'Execution');
  }

  async list(actor: Actor, req: ListRequest) {
    const beforeId = req.cursor !== undefined ? decodeCursor(req.cursor) : undefined;
    const { rows, total } = await listExecutionRows(this.db, { accountId: ownerFilter(actor), flowId: req.flowId, status: req.status, clientId: req.clientId, beforeId, limit: req.limit, offset: req.offset });
    const nextCursor = rows.length === req.limit ? encodeCursor(rows[rows.length - 1].id) : null;
    return { rows, total, nextCursor };
  }

  async cancel(actor: Actor, id: string): Promise<ExecutionRow> {
    await this.get(actor, id);
    await this.db.transaction(async (tx) => {
      const ex = (await lockExecution(tx, id))!;
      if (FINAL_STATUSES.includes(ex.status)) throw new ConflictError(`The execution has already ${ex.status === 'cancelled' ? 'been cancelled' : ex.status}`, { reason: `status is ${ex.status}` });
      const now = new Date();
      const tasks = await deleteExecutionTasks(tx, id);
      const document = await this.pinnedDocument(tx, ex);
      for (const t of tasks.filter((t) => t.lease_owner)) {
        await insertStep(tx, { execution_id: id, node_id: t.node_id, node_type: document.nodes[t.node_id]?.type ?? 'unknown', attempt: t.attempt, status: 'cancelled', input: null, output: null, error: 'cancelled while running', actor_id: actor.accountId, started_at: null, completed_at: now });
      }
      const error = 'Execution cancelled';
      await updateExecution(tx, id, { status: 'cancelled', error, completed_at: now });
      await appendEvents(tx, id, [
        { type: 'log', level: 'warn', payload: { level: 'warn', message: 'Execution cancelled', node_id: ex.current_node, node_type: null, data: { by: actor.accountId } } },
        { type: 'execution_failed', payload: { status: 'cancelled', error, node_id: ex.current_node, node_type: null } },
      ]);
      await tx.raw('select pg_notify(?, ?)', [CANCEL_CHANNEL, id]);
    });
    return (await findExecution(this.db, id))!;
  }

  private async pinnedDocument(db: Knex, ex: ExecutionRow): Promise<FlowDocument> {
    return (await findFlowVersion(db, ex.flow_id, ex.flow_version))!.document as FlowDocument;
  }

  async definition(actor: Actor, id: string): Promise<FlowVersionRow> {
    const ex = await this.get(actor, id);
    return (await findFlowVersion(this.db, ex.flow_id, ex.flow_version))!;
  }

  /** The definition hash of each (flow, version) the rows pinned, in one query. */
  async definitionHashes(rows: ExecutionRow[]): Promise<Map<string, string>> {
    const pairs = [...new Set(rows.map((r) => `${r.flow_id}@${r.flow_version}`))].map((k) => k.split('@'));
    if (pairs.length === 0) return new Map();
    const found = await this.db('flow_versions')
      .whereIn(['flow_id', 'number'], pairs.map(([f, n]) => [f, Number(n)]))
      .select('flow_id', 'number', 'hash');
    return new Map(found.map((v: { flow_id: string; number: number; hash: string }) => [`${v.flow_id}@${v.number}`, v.hash]));
  }

  async logs(actor: Actor, id: string, level: string | undefined, limit: number, offset: number) {
    await this.get(actor, id);
    return listLogRows(this.db, id, level, limit, offset);
  }

  async steps(actor: Actor, id: string, limit: number, offset: number) {
    await this.get(actor, id);
    return listStepRows(this.db, id, limit, offset);
  }

  async events(actor: Actor, id: string, since: number, limit: number) {
    await this.get(actor, id);
    return listEventRows(this.db, id, since, limit);
  }
}
