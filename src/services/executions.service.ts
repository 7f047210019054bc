/**
 * Starting, reading and cancelling executions. A start pins the flow's current version, checks the
 * input against its `inputs` schema, honours an Idempotency-Key, and queues the entry node — in
 * one transaction.
 */
import { decodeIdCursor, encodeIdCursor } from './cursors';
import crypto from 'node:crypto';
import { InvalidatedCache, type InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import {
  FINAL_STATUSES,
  type EventRow,
  type ExecutionRow,
  type ExecutionStage,
  type ExecutionTrigger,
  type ExecutionStatus,
  type FlowVersionRow,
  type StepRow,
} from '../db/tables';
import { nodeCount, type FlowDocument } from '../engine/definition';
import type { RunSecretsSource } from '../engine/ports';
import type { Masker } from '../security/masking';
import type { Tx } from '../db/knex';
import { checkAgainstSchema } from '../engine/user-schemas';
import { cancelExecution, createExecution } from '../engine/lifecycle';
import { admissionFor, ConcurrencyKeyError, type Admission } from '../engine/concurrency';
import { startsInline, type ExecutionStarter } from '../engine/starter';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { listEventRows, listLogRows } from '../repositories/events.repository';
import {
  deleteExecutionRow,
  findAttribution,
  findExecution,
  listExecutionRows,
  lockExecution,
} from '../repositories/executions.repository';
import { findDefinitionHashes, findFlowVersion } from '../repositories/flows.repository';
import { claimIdempotencyKey } from '../repositories/idempotency.repository';
import { isSharedWith } from '../repositories/shares.repository';
import { listLatestStepRows, listStepRows } from '../repositories/steps.repository';
import type { Actor } from './actor';
import type { FlowsService } from './flows.service';
import type { FlowRequestsService } from './flow-requests.service';
import { canSee, ownerFilter, permittedOrForbidden, type OrganizationAction } from './ownership';
import { inputFilesForStart } from './file-inputs';
import { insertExecutionFiles } from '../repositories/files.repository';
import { inTransaction } from '../db/transaction';
import { effectiveApproval, startTarget, type RunApproval } from './start-rules';
import { waitingReasonOf, type WaitingReason } from './waiting-reasons';

export interface StartRequest {
  flowId: string;
  input: Record<string, unknown>;
  clientId?: string;
  idempotencyKey?: string;
  /** A version to run instead of the flow's current one (a schedule may pin one). */
  flowVersion?: number;
  /** The schedule or webhook trigger that starts it. */
  trigger?: ExecutionTrigger;
  /** A flow request of the actor's that this execution carries out (001). */
  flowRequestId?: string;
  /** `draft` (the latest version) or `live` (the promoted one); see start-rules.ts. */
  stage?: ExecutionStage;
  /** The run's name (002). */
  name?: string;
  /** A per-run approval, never looser than the flow's own (start-rules.ts). */
  approval?: RunApproval;
  /** Files of the actor's given to it as inputs (002). */
  fileIds?: string[];
}

export interface ListRequest {
  /** Only this organization's (404 for one the caller is no member of). */
  organization?: string;
  flowId?: string;
  status?: ExecutionStatus;
  clientId?: string;
  triggerType?: 'schedule' | 'webhook';
  triggerId?: string;
  stage?: ExecutionStage;
  name?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Only the reruns of this execution. */
  rerunOf?: string;
  cursor?: string;
  limit: number;
  offset: number;
}

/** JSON with sorted keys: two bodies that mean the same hash the same. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The admission of a start of a limited flow; a key template that fails is the input's problem (422). */
async function limitedBy(document: FlowDocument, input: Record<string, unknown>): Promise<Admission> {
  try {
    return await admissionFor(document.concurrency!, input);
  } catch (err) {
    if (err instanceof ConcurrencyKeyError)
      throw new ValidationError("The flow's concurrency key cannot be computed from this input", {
        field: 'concurrency.key',
        reason: err.message,
      });
    throw err;
  }
}

export class ExecutionsService {
  /**
   * Finished executions, as read: a GET of one (polled by clients waiting for results) reads no
   * database. A trigger on `executions` announces every change to a finished row (see its
   * migration, 20261202030000); a service of this process that changes one also calls `forget`.
   */
  private readonly finished: InvalidatedCache<ExecutionRow>;

  constructor(
    private readonly db: Db,
    private readonly flows: FlowsService,
    private readonly secrets: RunSecretsSource,
    private readonly starter: ExecutionStarter,
    private readonly flowRequests: FlowRequestsService,
    private readonly bus: InvalidationBus,
  ) {
    this.finished = new InvalidatedCache(bus, MAX_CACHED_FINISHED);
    bus.on('execution', (id) => (id === '*' ? this.finished.clear() : this.finished.delete(id)));
    bus.on('account', (id) => this.finished.deleteWhere((ex) => ex.account_id === id));
  }

  /** This process changed a finished execution (or deleted it): its cached row goes now, not when the NOTIFY comes back. */
  forget(id: string): void {
    this.bus.changed('execution', id);
  }

  /** The execution's row: a finished one from the cache when it is there (and kept there when small). */
  private async readExecution(id: string): Promise<ExecutionRow | undefined> {
    let unfinished: ExecutionRow | undefined;
    const cached = await this.finished.get(id, async () => {
      const row = await findExecution(this.db, id);
      if (row && FINAL_STATUSES.includes(row.status) && cacheable(row)) return row;
      unfinished = row;
      return undefined;
    });
    return cached ?? unfinished;
  }

  /**
   * The masker of an execution: its organization's secrets (what it runs with). Every read of an
   * execution's user data goes through it: state values and node outputs hold secrets in clear
   * (later templates need them), and what was masked when written was masked with the secrets of
   * that moment.
   */
  async maskerFor(execution: Pick<ExecutionRow, 'organization_id'>): Promise<Masker> {
    return (await this.secrets.resolveForRun(execution.organization_id)).masker;
  }

  /** The maskers of these executions' organizations, by organization. */
  private async maskersFor(rows: Pick<ExecutionRow, 'organization_id'>[]): Promise<Map<string, Masker>> {
    const maskers = new Map<string, Masker>();
    for (const organizationId of new Set(rows.map((r) => r.organization_id)))
      maskers.set(organizationId, await this.maskerFor({ organization_id: organizationId }));
    return maskers;
  }

  private async masked(rows: ExecutionRow[]): Promise<ExecutionRow[]> {
    const maskers = await this.maskersFor(rows);
    return rows.map((r) => maskRow(r, maskers.get(r.organization_id)!));
  }

  /**
   * Starts an execution. `heldHere`: this process's worker holds the entry task (see
   * ExecutionStarter). With `within` (a trigger firing), the start commits with the caller's
   * transaction, which also holds what makes it happen once (a schedule's ledger row).
   */
  async start(
    actor: Actor,
    req: StartRequest,
    within?: Tx,
  ): Promise<{ execution: ExecutionRow; replayed: boolean; heldHere?: boolean }> {
    const flow = await this.flows.permitted(actor, req.flowId, 'run');
    const target = startTarget(flow, req.stage, req.flowVersion);
    const version = target.version;
    let document = target.document;
    if (!document) {
      const pinned = await findFlowVersion(within ?? this.db, flow.id, version);
      if (!pinned)
        throw new ValidationError(`The flow has no version ${version}`, {
          field: 'flow_version',
          reason: `the flow's versions are 1 to ${flow.current_version}`,
        });
      document = pinned.document as FlowDocument;
    }
    if (document.inputs)
      checkAgainstSchema(
        `${flow.id}@${version}`,
        document.inputs,
        req.input,
        'input',
        "The input does not match the flow's inputs schema",
      );
    const flowRequest =
      req.flowRequestId === undefined ? null : await this.flowRequests.snapshotFor(actor, req.flowRequestId, flow.id);
    const id = newId('exec');
    const approval = effectiveApproval(document.approval, req.approval);
    const planned = {
      id,
      account_id: flow.account_id,
      organization_id: flow.organization_id,
      flow_id: flow.id,
      flow_version: version,
      entry: document.entry!,
      nodes_total: nodeCount(document),
      input: req.input,
      client_id: req.clientId ?? null,
      started_by: actor.accountId,
      flow_request: flowRequest,
      stage: target.stage,
      name: req.name ?? null,
    };
    const fileIds = req.fileIds ?? [];
    // The common start (no key to remember, no approval first, no files to lock, no limit) is
    // committed with the starts that arrive together, and its first step may run in this process
    // without a claim.
    if (
      req.idempotencyKey === undefined &&
      approval === undefined &&
      within === undefined &&
      !req.trigger &&
      fileIds.length === 0 &&
      !document.concurrency
    )
      return { ...(await this.starter.start({ ...planned, inline: startsInline(document) })), replayed: false };
    const concurrency = document.concurrency ? await limitedBy(document, req.input) : undefined;
    const outcome = await inTransaction(within ?? this.db, async (tx) => {
      if (req.idempotencyKey !== undefined) {
        const hash = crypto
          .createHash('sha256')
          .update(
            canonical({
              flow_id: flow.id,
              input: req.input,
              client_id: req.clientId ?? null,
              // Absent when unused, so the keys remembered before flow requests still match.
              ...(req.flowRequestId !== undefined ? { flow_request_id: req.flowRequestId } : {}),
              ...(req.stage !== undefined ? { stage: req.stage } : {}),
              ...(req.flowVersion !== undefined ? { flow_version: req.flowVersion } : {}),
              ...(req.name !== undefined ? { name: req.name } : {}),
              ...(req.approval !== undefined ? { approval: req.approval } : {}),
              ...(fileIds.length > 0 ? { file_ids: fileIds } : {}),
            }),
          )
          .digest('hex');
        const claim = await claimIdempotencyKey(tx, {
          account_id: actor.accountId,
          key: req.idempotencyKey,
          request_hash: hash,
          execution_id: id,
        });
        if (!claim.claimed) {
          if (claim.request_hash !== hash) {
            throw new ConflictError('This Idempotency-Key was used with a different request', {
              field: 'Idempotency-Key',
              reason: 'use a new key for a different request',
            });
          }
          return { replayOf: claim.execution_id };
        }
      }
      const inputFiles = fileIds.length > 0 ? await inputFilesForStart(tx, actor, fileIds) : null;
      const execution = await createExecution(tx, {
        ...planned,
        approval,
        trigger: req.trigger ?? null,
        input_files: inputFiles,
        concurrency,
      });
      await insertExecutionFiles(
        tx,
        fileIds.map((fileId, position) => ({
          execution_id: id,
          role: 'input',
          position,
          file_id: fileId,
          node_id: null,
        })),
      );
      return { execution };
    });
    if ('replayOf' in outcome)
      return { execution: (await findExecution(within ?? this.db, outcome.replayOf!))!, replayed: true };
    return { execution: outcome.execution, replayed: false };
  }

  /**
   * The execution and what the actor may do with it: members of its organization (and admins)
   * `manage` it as far as their role allows; accounts it is shared with may read it and answer
   * its waits. Anyone else gets 404.
   */
  async access(actor: Actor, id: string): Promise<{ execution: ExecutionRow; manage: boolean }> {
    return this.accessTo(actor, id, await this.readExecution(id));
  }

  /**
   * `access` for a row the caller already has (or undefined when there is none). `decided`: the
   * caller has just decided its approval (so it may read the outcome it asked for).
   */
  private async accessTo(
    actor: Actor,
    id: string,
    execution: ExecutionRow | undefined,
    decided = false,
  ): Promise<{ execution: ExecutionRow; manage: boolean }> {
    let manage: boolean;
    if (execution && canSee(actor, execution)) manage = true;
    else if (
      execution &&
      (decided || asksToDecide(execution, actor) || (await isSharedWith(this.db, id, actor.accountId)))
    )
      manage = false;
    else throw new NotFoundError('Execution not found');
    // A row the engine committed carries no attribution (the reads join it); look it up then.
    const attributed =
      execution.flow_name === undefined
        ? { ...execution, ...(await findAttribution(this.db, execution.started_by, execution.flow_id)) }
        : execution;
    return { execution: maskRow(attributed, await this.maskerFor(execution)), manage };
  }

  async get(actor: Actor, id: string): Promise<ExecutionRow> {
    return (await this.access(actor, id)).execution;
  }

  /** Why the execution (as `get` answered it) does not move on now; null when nothing holds it back. */
  waitingReason(execution: ExecutionRow): Promise<WaitingReason | null> {
    return waitingReasonOf(this.db, execution);
  }

  /** What `get` answers, to the approver who has just decided it (no longer waiting for them). */
  async afterDecision(actor: Actor, id: string): Promise<ExecutionRow> {
    return (await this.accessTo(actor, id, await findExecution(this.db, id), true)).execution;
  }

  /** What `get` answers, from a row as committed a moment ago (the engine's, when it finished it here). */
  async present(actor: Actor, execution: ExecutionRow): Promise<ExecutionRow> {
    return (await this.accessTo(actor, execution.id, execution)).execution;
  }

  /**
   * For what only members of its organization may do, with a role that allows `action` (cancel:
   * run; share, listeners, purge: edit); an account it is only shared with gets 403.
   */
  async manage(actor: Actor, id: string, what: string, action: OrganizationAction = 'run'): Promise<ExecutionRow> {
    const { execution, manage } = await this.access(actor, id);
    if (!manage)
      throw new ForbiddenError(
        `Only members of its organization may ${what}; this execution is shared with you to read and answer`,
      );
    return permittedOrForbidden(actor, execution, action, 'Execution');
  }

  /**
   * For answering its waits (approve, reject, signal, values, navigate): members of its
   * organization need a role that may run; accounts it is shared with (or that it names as
   * approvers) may answer.
   */
  async answerable(actor: Actor, id: string): Promise<ExecutionRow> {
    const { execution, manage } = await this.access(actor, id);
    return manage ? permittedOrForbidden(actor, execution, 'run', 'Execution') : execution;
  }

  async list(actor: Actor, req: ListRequest) {
    const beforeId = req.cursor !== undefined ? decodeIdCursor(req.cursor, 'exec-') : undefined;
    const scope = ownerFilter(actor, req.organization);
    // Without an organization asked for, the list also has what is shared with the caller.
    const sharedWith = req.organization === undefined && scope.organizationIds ? actor.accountId : undefined;
    const { rows, total } = await listExecutionRows(this.db, {
      ...scope,
      sharedWith,
      flowId: req.flowId,
      status: req.status,
      clientId: req.clientId,
      triggerType: req.triggerType,
      triggerId: req.triggerId,
      stage: req.stage,
      name: req.name,
      createdAfter: req.createdAfter,
      createdBefore: req.createdBefore,
      rerunOf: req.rerunOf,
      beforeId,
      limit: req.limit,
      offset: req.offset,
    });
    const nextCursor = rows.length === req.limit ? encodeIdCursor(rows[rows.length - 1].id) : null;
    return { rows: await this.masked(rows), total, nextCursor };
  }

  /**
   * `retried: 'answered'` (003's cancelRun): cancelling what is already cancelled answers as the
   * first cancel did, so a retried request does not fail; 004's DELETE keeps its 409.
   */
  async cancel(actor: Actor, id: string, opts: { retried?: 'answered' | 'refused' } = {}): Promise<ExecutionRow> {
    await this.manage(actor, id, 'cancel it');
    await inTransaction(this.db, async (tx) => {
      const ex = (await lockExecution(tx, id))!;
      if (ex.status === 'cancelled' && opts.retried === 'answered') return;
      if (FINAL_STATUSES.includes(ex.status))
        throw new ConflictError(
          `The execution has already ${ex.status === 'cancelled' ? 'been cancelled' : ex.status}`,
          { reason: `status is ${ex.status}` },
        );
      await cancelExecution(tx, ex, 'Execution cancelled', actor.accountId);
    });
    return (await this.masked([(await findExecution(this.db, id))!]))[0];
  }

  /** Removes a finished execution and everything of it (000's delete); 409 while it is not finished. */
  async purge(actor: Actor, id: string): Promise<void> {
    await this.manage(actor, id, 'purge it', 'edit');
    await inTransaction(this.db, async (tx) => {
      const ex = await lockExecution(tx, id);
      if (!ex) throw new NotFoundError('Execution not found');
      if (!FINAL_STATUSES.includes(ex.status))
        throw new ConflictError(`The execution is ${ex.status}; cancel it before purging it`, {
          reason: `status is ${ex.status}`,
        });
      await deleteExecutionRow(tx, id);
    });
    this.forget(id);
  }

  async definition(actor: Actor, id: string): Promise<FlowVersionRow> {
    const ex = await this.get(actor, id);
    return (await findFlowVersion(this.db, ex.flow_id, ex.flow_version))!;
  }

  /** The parsed definition an execution runs (its pinned version's). */
  async pinnedDocument(ex: ExecutionRow): Promise<FlowDocument> {
    return (await findFlowVersion(this.db, ex.flow_id, ex.flow_version))!.document as FlowDocument;
  }

  /** The definition hash of each (flow, version) the rows pinned, in one query. */
  async definitionHashes(rows: ExecutionRow[]): Promise<Map<string, string>> {
    const keys = new Map(
      rows.map((r) => [`${r.flow_id}@${r.flow_version}`, { flowId: r.flow_id, number: r.flow_version }]),
    );
    return findDefinitionHashes(this.db, [...keys.values()]);
  }

  async logs(actor: Actor, id: string, level: string | undefined, limit: number, offset: number) {
    const ex = await this.get(actor, id);
    const { rows, total } = await listLogRows(this.db, id, level, limit, offset);
    return { rows: maskEvents(rows, await this.maskerFor(ex)), total };
  }

  /**
   * `include=steps`: the latest attempt of each node that ran, for executions the caller has
   * already been allowed to read, in one query for the whole page; keyed by execution id.
   */
  async latestSteps(rows: ExecutionRow[]): Promise<Map<string, StepRow[]>> {
    const byExecution = new Map<string, StepRow[]>(rows.map((r) => [r.id, []]));
    const organizations = new Map(rows.map((r) => [r.id, r.organization_id]));
    const maskers = await this.maskersFor(rows);
    for (const step of await listLatestStepRows(this.db, [...byExecution.keys()]))
      byExecution
        .get(step.execution_id)!
        .push(maskSteps([step], maskers.get(organizations.get(step.execution_id)!)!)[0]);
    return byExecution;
  }

  async steps(actor: Actor, id: string, limit: number, offset: number) {
    const ex = await this.get(actor, id);
    const { rows, total } = await listStepRows(this.db, id, limit, offset);
    return { rows: maskSteps(rows, await this.maskerFor(ex)), total };
  }

  async events(actor: Actor, id: string, since: number, limit: number) {
    const ex = await this.get(actor, id);
    return maskEvents(await listEventRows(this.db, id, since, limit), await this.maskerFor(ex));
  }
}

/** An execution row with every field that carries user data masked. */
export function maskRow(r: ExecutionRow, masker: Masker): ExecutionRow {
  if (masker.empty) return r;
  return {
    ...r,
    input: masker.json(r.input),
    result: masker.json(r.result),
    error: r.error === null ? null : masker.text(r.error),
    state_values: masker.json(r.state_values),
    node_outputs: masker.json(r.node_outputs),
    waiting_for: masker.json(r.waiting_for),
  };
}

export function maskSteps(rows: StepRow[], masker: Masker): StepRow[] {
  if (masker.empty) return rows;
  return rows.map((s) => ({
    ...s,
    input: masker.json(s.input),
    output: masker.json(s.output),
    error: s.error === null ? null : masker.text(s.error),
  }));
}

export function maskEvents(rows: EventRow[], masker: Masker): EventRow[] {
  if (masker.empty) return rows;
  return rows.map((e) => ({ ...e, payload: masker.json(e.payload) }));
}

/** An account the flow names as an approver may read the execution that waits for its decision. */
function asksToDecide(execution: ExecutionRow, actor: Actor): boolean {
  const waiting = execution.waiting_for as { kind?: string; approvers?: string[] } | null;
  return (
    execution.status === 'waiting' && waiting?.kind === 'approval' && !!waiting.approvers?.includes(actor.accountId)
  );
}

/** How many finished executions a process keeps (each at most CACHED_JSON_LIMIT of JSON columns). */
const MAX_CACHED_FINISHED = 2000;
const CACHED_JSON_LIMIT = 32 * 1024;

/** Small enough to keep: the cache's memory stays bounded (MAX_CACHED_FINISHED × this). */
function cacheable(row: ExecutionRow): boolean {
  let size = 0;
  for (const value of [row.input, row.node_outputs, row.state_values, row.result, row.flow_request]) {
    size += value === null || value === undefined ? 0 : JSON.stringify(value).length;
    if (size > CACHED_JSON_LIMIT) return false;
  }
  return true;
}
