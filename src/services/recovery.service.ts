/**
 * Recovering a failed or cancelled execution (issue 18): a retry continues the same execution
 * from where it stopped; a rerun starts a new one linked to it (`rerun_of`), optionally from a
 * node, reusing what ran before it. Both are starts: only a caller who may start the flow may ask
 * (a share to read is not enough), and an Idempotency-Key replays the first answer.
 */
import crypto from 'node:crypto';
import type { Db, Tx } from '../db/knex';
import { inTransaction } from '../db/transaction';
import type { ExecutionRow } from '../db/tables';
import type { FlowDocument } from '../engine/definition';
import { nodeOf } from '../engine/definition';
import { rerunMismatches, resumeExecution, reusedSteps, stoppedTasks } from '../engine/recovery';
import { checkAgainstSchema } from '../engine/user-schemas';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { appendEvents } from '../repositories/events.repository';
import { findExecution, lockExecution, updateExecution } from '../repositories/executions.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import { claimIdempotencyKey } from '../repositories/idempotency.repository';
import { insertSteps, listAllStepRows } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import { canonical, type ExecutionsService } from './executions.service';
import type { FlowsService } from './flows.service';
import { continuedForeach, retryItemsOf, retryIteration, type Continued } from './foreach-retry';
import { retryForeachItems } from '../engine/foreach-retry';

export interface RetryRequest {
  useCurrentVersion?: boolean;
  input?: Record<string, unknown>;
  idempotencyKey?: string;
}

export interface ExecutionRetryRequest extends RetryRequest {
  /** Indexes of items of a foreach (`foreachNode`, default the latest) to run again. */
  items?: number[];
  foreachNode?: string;
}

export interface RerunRequest extends RetryRequest {
  fromNode?: string;
}

/** A key already used for the same request: the transaction is rolled back and its answer replayed. */
class Replay extends Error {
  constructor(readonly executionId: string) {
    super('replay');
  }
}

const RECOVERABLE = ['failed', 'cancelled'];

function requestHash(what: Record<string, unknown>): string {
  return crypto.createHash('sha256').update(canonical(what)).digest('hex');
}

export class RecoveryService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
    private readonly flows: FlowsService,
  ) {}

  /**
   * The flow's current version, when the caller may start the flow (`run` in its organization:
   * 403 for a viewer); 409 when the flow was deleted, since nothing of it may start again.
   */
  private async startable(actor: Actor, flowId: string): Promise<{ version: number; document: FlowDocument }> {
    try {
      const flow = await this.flows.permitted(actor, flowId, 'run');
      return { version: flow.current_version, document: flow.document as FlowDocument };
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new ConflictError('The flow was deleted: its executions are not retried or rerun', {
          reason: `flow ${flowId} was deleted`,
        });
      throw err;
    }
  }

  private async pinned(flowId: string, version: number): Promise<FlowDocument> {
    return (await findFlowVersion(this.db, flowId, version))!.document as FlowDocument;
  }

  /** Claims the key for `executionId` inside `tx`; a replay of the same request throws Replay. */
  private async claim(tx: Tx, actor: Actor, key: string | undefined, hash: string, executionId: string) {
    if (key === undefined) return;
    const claim = await claimIdempotencyKey(tx, {
      account_id: actor.accountId,
      key,
      request_hash: hash,
      execution_id: executionId,
    });
    if (claim.claimed) return;
    if (claim.request_hash !== hash)
      throw new ConflictError('This Idempotency-Key was used with a different request', {
        field: 'Idempotency-Key',
        reason: 'use a new key for a different request',
      });
    throw new Replay(claim.execution_id);
  }

  private async replaying(
    actor: Actor,
    work: () => Promise<string>,
    alsoChanged: string[] = [],
  ): Promise<ExecutionRow> {
    let id: string;
    try {
      id = await work();
    } catch (err) {
      if (!(err instanceof Replay)) throw err;
      id = err.executionId;
    }
    // A retry changed a finished row (or its parent's): this process's cached copies go before the read.
    this.executions.forget(id);
    for (const other of alsoChanged) this.executions.forget(other);
    return this.executions.get(actor, id);
  }

  /**
   * Continues a failed or cancelled execution from the step(s) it stopped at; a foreach it
   * stopped at goes on with its unfinished items (`items`: chosen ones, also of a completed
   * execution); an iteration goes on as its foreach's item (services/foreach-retry.ts).
   */
  async retry(actor: Actor, id: string, req: ExecutionRetryRequest): Promise<ExecutionRow> {
    const visible = await this.executions.manage(actor, id, 'retry it');
    const current = await this.startable(actor, visible.flow_id);
    const iterationOf = visible.iteration && visible.parent_execution_id;
    if (req.foreachNode !== undefined && req.items === undefined)
      throw new ValidationError('foreach_node names the foreach whose items to retry: give items too', {
        field: 'foreach_node',
        reason: 'only with items',
      });
    if (iterationOf && (req.items !== undefined || req.input !== undefined))
      throw new ValidationError(
        `${id} is an iteration of a foreach in ${iterationOf}: retry it with use_current_version at most (its input is its item), or retry items of the parent`,
        { field: req.items !== undefined ? 'items' : 'input', reason: 'not for an iteration' },
      );
    // An iteration's retry may reopen its parent: the caller must be allowed to start that too.
    const parentFlow = iterationOf ? (await findExecution(this.db, iterationOf))?.flow_id : undefined;
    if (parentFlow && parentFlow !== visible.flow_id) await this.startable(actor, parentFlow);
    const target = req.useCurrentVersion
      ? current
      : { version: visible.flow_version, document: await this.pinned(visible.flow_id, visible.flow_version) };
    const hash = requestHash({
      retry: id,
      use_current_version: req.useCurrentVersion ?? false,
      input: req.input ?? null,
      ...(req.items !== undefined ? { items: req.items, foreach_node: req.foreachNode ?? null } : {}),
    });
    const alsoChanged: string[] = [];
    return this.replaying(
      actor,
      () =>
        inTransaction(this.db, async (tx) => {
          await this.claim(tx, actor, req.idempotencyKey, hash, id);
          const ex = (await lockExecution(tx, id))!;
          if (req.items !== undefined) {
            this.checkRetriable(ex, ['failed', 'cancelled', 'completed']);
            this.checkInput(ex, target, req.input);
            await retryItemsOf(tx, ex, { ...req, items: req.items }, target, actor.accountId);
            return id;
          }
          if (iterationOf) {
            this.checkRetriable(ex, RECOVERABLE);
            const parent = await retryIteration(tx, ex, req, target, actor.accountId);
            if (parent) alsoChanged.push(parent);
            return id;
          }
          return this.retryStopped(tx, ex, req, target, actor);
        }),
      alsoChanged,
    );
  }

  private checkRetriable(ex: ExecutionRow, allowed: string[]): void {
    if (!allowed.includes(ex.status))
      throw new ConflictError(
        `The execution is ${ex.status}; only a ${allowed.join(' or ').replace(/ or (?=.* or )/g, ', ')} execution can be retried${allowed.includes('completed') ? ' this way' : ''}`,
        { reason: `status is ${ex.status}` },
      );
    if (ex.approval_status === 'pending' || ex.approval_status === 'rejected')
      throw new ConflictError(
        `The execution was ${ex.approval_status === 'rejected' ? 'rejected' : 'never approved'} at its approval; rerun it to ask again`,
        { reason: `approval_status is ${ex.approval_status}` },
      );
  }

  private checkInput(ex: ExecutionRow, target: { version: number; document: FlowDocument }, patched?: object): void {
    const input = patched ?? ex.input;
    if ((patched !== undefined || target.version !== ex.flow_version) && target.document.inputs)
      checkAgainstSchema(
        `${ex.flow_id}@${target.version}`,
        target.document.inputs,
        input,
        'input',
        "The input does not match the flow's inputs schema",
      );
  }

  /** A retry from the step(s) the execution stopped at; a foreach among them goes on with its unfinished items. */
  private async retryStopped(
    tx: Tx,
    ex: ExecutionRow,
    req: RetryRequest,
    target: { version: number; document: FlowDocument },
    actor: Actor,
  ): Promise<string> {
    const id = ex.id;
    this.checkRetriable(ex, RECOVERABLE);
    this.checkInput(ex, target, req.input);
    const steps = await listAllStepRows(tx, id);
    const pinnedDocument =
      target.version === ex.flow_version ? target.document : await this.pinned(ex.flow_id, ex.flow_version);
    const tasks = stoppedTasks(ex, steps, pinnedDocument);
    const missing = tasks.filter((t) => !nodeOf(target.document, t.node_id)).map((t) => t.node_id);
    if (missing.length > 0)
      throw new ValidationError(
        `The execution stopped at ${missing.map((m) => `"${m}"`).join(', ')}, which version ${target.version} no longer has`,
        {
          field: 'use_current_version',
          reason: `version ${target.version} has no node ${missing.join(', ')}; rerun it with from_node instead`,
        },
      );
    const continued: Continued[] = [];
    for (const [i, task] of tasks.entries()) {
      const c = await continuedForeach(tx, ex, task, pinnedDocument, target, actor.accountId);
      if (!c) continue;
      tasks[i] = c.task;
      continued.push(c);
    }
    await resumeExecution(tx, ex, {
      tasks,
      version: target.version,
      document: target.document,
      input: req.input,
      actorId: actor.accountId,
    });
    for (const c of continued) await retryForeachItems(tx, ex, c.retry);
    return id;
  }

  /** Starts a new execution linked to this one, optionally from a node, reusing what ran before it. */
  async rerun(actor: Actor, id: string, req: RerunRequest): Promise<ExecutionRow> {
    await this.executions.manage(actor, id, 'rerun it');
    const original = (await findExecution(this.db, id))!;
    const before = await this.pinned(original.flow_id, original.flow_version);
    const current = await this.startable(actor, original.flow_id);
    const target = req.useCurrentVersion ? current : { version: original.flow_version, document: before };
    const reuse = req.fromNode === undefined ? undefined : await this.reuse(original, before, target, req.fromNode);
    const hash = requestHash({
      rerun: id,
      use_current_version: req.useCurrentVersion ?? false,
      input: req.input ?? null,
      from_node: req.fromNode ?? null,
    });
    return this.replaying(actor, () =>
      inTransaction(this.db, async (tx) => {
        const { execution } = await this.executions.start(
          actor,
          {
            flowId: original.flow_id,
            flowVersion: target.version,
            input: req.input ?? original.input,
          },
          tx,
        );
        await this.claim(tx, actor, req.idempotencyKey, hash, execution.id);
        await updateExecution(tx, execution.id, { rerun_of: id });
        const reused = reuse?.steps ?? [];
        if (req.fromNode !== undefined) {
          await deleteExecutionTasks(tx, execution.id);
          await insertTask(tx, { execution_id: execution.id, node_id: req.fromNode });
          await insertSteps(
            tx,
            reused.map(({ id: _id, ...s }) => ({ ...s, execution_id: execution.id })),
          );
          const outputs = Object.fromEntries(
            reused
              .filter((s) => Object.hasOwn(original.node_outputs, s.node_id))
              .map((s) => [s.node_id, original.node_outputs[s.node_id]]),
          );
          await updateExecution(tx, execution.id, {
            node_outputs: outputs,
            step_count: reused.length,
            current_node: req.fromNode,
          });
        }
        const from = req.fromNode === undefined ? '' : ` from "${req.fromNode}"`;
        const reusing =
          reused.length === 0 ? '' : `, reusing the outputs of ${reused.map((s) => `"${s.node_id}"`).join(', ')}`;
        await appendEvents(tx, execution.id, [
          {
            type: 'log',
            level: 'info',
            payload: {
              level: 'info',
              message: `Rerun of ${id}${from}${reusing}`,
              node_id: req.fromNode ?? null,
              node_type: req.fromNode === undefined ? null : nodeOf(target.document, req.fromNode)!.type,
              data: { rerun_of: id, from_node: req.fromNode ?? null, reused: reused.map((s) => s.node_id) },
            },
          },
        ]);
        return execution.id;
      }),
    );
  }

  /** What a rerun from `fromNode` reuses of the original, after checking that the version it runs fits. */
  private async reuse(
    original: ExecutionRow,
    before: FlowDocument,
    target: { version: number; document: FlowDocument },
    fromNode: string,
  ) {
    if (!nodeOf(target.document, fromNode))
      throw new ValidationError(`Version ${target.version} of the flow has no node "${fromNode}"`, {
        field: 'from_node',
        reason: 'name a node of the version that runs',
      });
    if (target.document.approval?.required)
      throw new ValidationError('A flow that asks for approval before its first node is rerun from its start', {
        field: 'from_node',
        reason: 'leave from_node out',
      });
    const steps = reusedSteps(await listAllStepRows(this.db, original.id), fromNode);
    if (!steps)
      throw new ValidationError(`Node "${fromNode}" did not run in ${original.id}`, {
        field: 'from_node',
        reason: 'name a node that ran in the original execution',
      });
    if (target.version !== original.flow_version) {
      const problems = rerunMismatches(
        before,
        target.document,
        fromNode,
        steps.map((s) => s.node_id),
      );
      if (problems.length > 0)
        throw new ConflictError(
          `Version ${target.version} does not fit what the rerun reuses from version ${original.flow_version}: ${problems.join('; ')}`,
          { field: 'from_node', reason: problems.join('; '), changes: problems },
        );
    }
    return { steps };
  }
}
