/**
 * An execution as one JSON document (format 1): the pinned definition, input, state values, steps,
 * events and status — never secrets: everything in it is masked with its organization's secrets on the
 * way out (state values hold secrets in clear; node outputs stay out). Importing one makes a new
 * execution in the caller's account: a finished run to inspect, or a waiting run that can be
 * answered there (one waiting for a callback runs its callback node again, for a URL of its own).
 * Import is one transaction.
 */
import type { Db } from '../db/knex';
import type { components } from '../../generated/types/api';
import { shownWaitingFor, toEvent, toStep } from '../presenters/executions.presenter';
import { newId } from '../db/ids';
import type { ExecutionRow, ExecutionStatus } from '../db/tables';
import { definitionHash, nodeCount, nodeOf, parseDefinition, type DefinitionProblem } from '../engine/definition';
import { ValidationError } from '../errors';
import { appendEvents, insertEventRows, listEventRows } from '../repositories/events.repository';
import { insertExecution } from '../repositories/executions.repository';
import { findFlowName, insertFlow, insertFlowVersion } from '../repositories/flows.repository';
import { insertSteps, listStepRows } from '../repositories/steps.repository';
import { insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import { organizationFor } from './ownership';
import { maskEvents, maskSteps, type ExecutionsService } from './executions.service';
import { inTransaction } from '../db/transaction';

export type ExecutionPackage = components['schemas']['ExecutionPackage'];
export const PACKAGE_FORMAT_VERSION = 1;
const IMPORTABLE: ExecutionStatus[] = ['waiting', 'completed', 'failed', 'cancelled'];

function invalid(reason: string, field = 'package', extra: Record<string, unknown> = {}): ValidationError {
  return new ValidationError(`The package cannot be imported: ${reason}`, { field, reason, ...extra });
}

export class PackagesService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async export(actor: Actor, id: string): Promise<ExecutionPackage> {
    const ex = await this.executions.get(actor, id);
    const version = await this.executions.definition(actor, id);
    const flowName = await findFlowName(this.db, ex.flow_id);
    const { rows: steps } = await listStepRows(this.db, id, 100_000, 0);
    const events = await listEventRows(this.db, id, 0, 1_000_000);
    const masker = await this.executions.maskerFor(ex);
    return {
      format_version: PACKAGE_FORMAT_VERSION,
      flow_name: flowName ?? 'Imported flow',
      definition: version.definition,
      definition_hash: version.hash,
      input: ex.input,
      status: ex.status,
      current_node: ex.current_node,
      approval_status: ex.approval_status,
      // Never a callback's token hash: the URL belongs to this execution, an import makes its own.
      waiting_for: masker.json(shownWaitingFor(ex.waiting_for)) as ExecutionPackage['waiting_for'],
      result: ex.result ?? null,
      error: ex.error,
      values: ex.state_values,
      steps: maskSteps(steps, masker).map(toStep),
      events: maskEvents(events, masker).map(toEvent),
    };
  }

  async import(actor: Actor, pkg: ExecutionPackage): Promise<ExecutionRow> {
    if (pkg.format_version !== PACKAGE_FORMAT_VERSION)
      throw invalid(
        `format_version ${pkg.format_version} is not supported (expected ${PACKAGE_FORMAT_VERSION})`,
        'format_version',
      );
    if (pkg.definition_hash !== undefined && pkg.definition_hash !== definitionHash(pkg.definition))
      throw invalid('definition_hash does not match the definition (the package was altered)', 'definition_hash');
    const parsed = parseDefinition(pkg.definition);
    if (!parsed.ok)
      throw invalid('its definition is invalid', 'definition', { errors: parsed.problems as DefinitionProblem[] });
    const document = { ...parsed.document, entry: parsed.entry };
    if (!IMPORTABLE.includes(pkg.status))
      throw invalid(`only waiting or finished executions can be imported, not ${pkg.status}`, 'status');
    for (const [i, s] of pkg.steps.entries()) {
      const node = s.node_id === '$approval' ? undefined : nodeOf(document, s.node_id);
      if (s.node_id !== '$approval' && !node)
        throw invalid(
          `steps[${i}] is for node "${s.node_id}", which the definition does not have`,
          `steps.${i}.node_id`,
        );
      if (node && node.type !== s.node_type)
        throw invalid(
          `steps[${i}] says node "${s.node_id}" is a ${s.node_type}, the definition a ${node.type}`,
          `steps.${i}.node_type`,
        );
    }
    for (const [i, e] of pkg.events.entries()) {
      if (e.seq !== i + 1)
        throw invalid(
          `events must be numbered 1, 2, 3 … without gaps; events[${i}] has seq ${e.seq}`,
          `events.${i}.seq`,
        );
    }
    const waiting = pkg.waiting_for ?? null;
    if (pkg.status === 'waiting') {
      if (!waiting) throw invalid('a waiting execution needs waiting_for', 'waiting_for');
      if (waiting.node_id !== null && !nodeOf(document, waiting.node_id))
        throw invalid(
          `waiting_for names node "${waiting.node_id}", which the definition does not have`,
          'waiting_for.node_id',
        );
      if (waiting.kind === 'subflow')
        throw invalid(
          'an execution waiting for a subflow cannot be imported (its child stays behind)',
          'waiting_for.kind',
        );
    }

    // A callback's one-time URL stays with the exported execution (its token was never exported):
    // the imported one runs its callback node again, which sends notify_url a URL of its own.
    const renotify = pkg.status === 'waiting' && waiting?.kind === 'callback' && waiting.node_id !== null;
    const flowId = newId('flow');
    const executionId = newId('exec');
    const nodeOutputs: Record<string, { output?: unknown; error?: string }> = {};
    for (const s of pkg.steps) {
      if (s.status === 'completed') nodeOutputs[s.node_id] = { output: s.output ?? null };
      else if (s.status === 'failed')
        nodeOutputs[s.node_id] = { output: s.output ?? null, error: s.error ?? undefined };
    }
    // An import goes into the caller's personal organization, as a new flow would.
    const organizationId = organizationFor(actor, undefined, 'imported executions');
    await inTransaction(this.db, async (tx) => {
      await insertFlow(tx, {
        id: flowId,
        account_id: actor.accountId,
        organization_id: organizationId,
        name: `${pkg.flow_name ?? 'Imported flow'} (imported ${executionId})`,
        description: `Imported with execution ${executionId}`,
        tags: ['imported'],
        current_version: 1,
      });
      await insertFlowVersion(tx, {
        flow_id: flowId,
        number: 1,
        version_label: document.metadata?.version !== undefined ? String(document.metadata.version) : null,
        hash: parsed.hash,
        definition: pkg.definition,
        document,
        created_by: actor.accountId,
      });
      const final = pkg.status !== 'waiting';
      const stamps = pkg.events.map((e) => new Date(e.timestamp).getTime());
      await insertExecution(tx, {
        id: executionId,
        account_id: actor.accountId,
        organization_id: organizationId,
        flow_id: flowId,
        flow_version: 1,
        status: renotify ? 'running' : pkg.status,
        client_id: null,
        input: pkg.input,
        result: final ? (JSON.stringify(pkg.result ?? null) as never) : null,
        error: pkg.error ?? null,
        current_node: pkg.current_node ?? null,
        node_outputs: JSON.stringify(nodeOutputs) as never,
        state_values: JSON.stringify(pkg.values ?? {}) as never,
        step_count: pkg.steps.length,
        nodes_total: nodeCount(document),
        approval_status: pkg.approval_status ?? null,
        waiting_for: waiting && !renotify ? (JSON.stringify(waiting) as never) : null,
        started_by: actor.accountId,
        started_at: stamps.length ? new Date(Math.min(...stamps)) : null,
        completed_at: final && stamps.length ? new Date(Math.max(...stamps)) : null,
        event_seq: pkg.events.length,
      });
      await insertSteps(
        tx,
        pkg.steps.map((s) => ({
          execution_id: executionId,
          node_id: s.node_id,
          node_type: s.node_type,
          attempt: s.attempt,
          status: s.status,
          input: s.input ?? null,
          output: s.output ?? null,
          error: s.error ?? null,
          actor_id: s.actor_id ?? null,
          started_at: s.started_at ? new Date(s.started_at) : null,
          completed_at: s.completed_at ? new Date(s.completed_at) : null,
        })),
      );
      await insertEventRows(
        tx,
        pkg.events.map((e) => {
          const {
            type,
            seq,
            timestamp,
            execution_id: _from,
            ...payload
          } = e as Record<string, unknown> & { type: string; seq: number; timestamp: string };
          return {
            execution_id: executionId,
            seq,
            type,
            level: type === 'log' ? (payload.level as string) : null,
            payload,
            created_at: new Date(timestamp),
          };
        }),
      );
      await appendEvents(tx, executionId, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Imported by ${actor.accountId}`,
            node_id: null,
            node_type: null,
            data: null,
          },
        },
      ]);
      if (renotify) await insertTask(tx, { execution_id: executionId, node_id: waiting.node_id! });
      else if (waiting?.deadline && waiting.node_id)
        await insertTask(tx, {
          execution_id: executionId,
          node_id: waiting.node_id,
          run_at: new Date(waiting.deadline),
          state: { timeout: true },
        });
    });
    return this.executions.get(actor, executionId);
  }
}
