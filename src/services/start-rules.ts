/**
 * What a start runs and under which approval rule (issue 15), decided in memory from the flow as
 * `FlowsService.get` holds it (its current and live documents), so a start on either stage costs
 * no more reads than before.
 *
 * Stages: `draft` is the flow's latest version, `live` the version promoted with
 * `PUT /flows/{id}/live`. Without a stage a start runs the live version when one is set, else the
 * latest. An exact `flow_version` may be named instead (003's startRun, a schedule's pin); with
 * `stage: live` it must be the live one.
 *
 * Per-run approval: the run's rule is merged with the flow's so the result is never looser.
 */
import type { ExecutionStage, FlowWithDefinition } from '../db/tables';
import type { FlowDocument } from '../engine/definition';
import { ValidationError } from '../errors';

export interface RunApproval {
  required?: boolean;
  approvers?: string[];
  no_self_approval?: boolean;
}

export interface ApprovalRule {
  approvers: string[];
  no_self_approval: boolean;
}

/** The version a start runs: its number, its stage, and its document when it is at hand. */
export interface StartTarget {
  stage: ExecutionStage;
  version: number;
  /** Undefined when the version must be read (an exact version that is neither latest nor live). */
  document?: FlowDocument;
}

export function startTarget(flow: FlowWithDefinition, stage?: ExecutionStage, flowVersion?: number): StartTarget {
  const live = flow.live_version;
  const documentOf = (n: number): FlowDocument | undefined =>
    n === flow.current_version
      ? (flow.document as FlowDocument)
      : n === live && flow.live_document
        ? (flow.live_document as FlowDocument)
        : undefined;
  if (flowVersion !== undefined) {
    if (stage === 'live' && flowVersion !== live)
      throw new ValidationError(
        live === null
          ? 'The flow has no live version'
          : `Version ${flowVersion} is not the flow's live version (${live})`,
        { field: 'flow_version', reason: 'with stage "live", name the live version or leave flow_version out' },
      );
    return {
      stage: stage ?? (flowVersion === live ? 'live' : 'draft'),
      version: flowVersion,
      document: documentOf(flowVersion),
    };
  }
  if (stage === 'live' && live === null)
    throw new ValidationError('The flow has no live version', {
      field: 'stage',
      reason: 'promote a version with PUT /api/v1/flows/{id}/live, or start the draft',
    });
  if (stage === 'draft' || live === null)
    return { stage: 'draft', version: flow.current_version, document: flow.document as FlowDocument };
  return { stage: 'live', version: live, document: documentOf(live) };
}

/**
 * The approval an execution waits for before its first node, or undefined. Required when the
 * flow or the run asks for it; self-approval refused when either refuses it; approvers: those
 * both name (either list alone when the other names none, meaning anyone). A run cannot relax the
 * flow's rule: its `required: false` and `no_self_approval: false` change nothing, and approvers
 * the flow does not name are dropped; when none is left, nobody could approve, so it is a 422.
 */
export function effectiveApproval(
  flowRule: FlowDocument['approval'],
  runRule: RunApproval | undefined,
): ApprovalRule | undefined {
  const flowRequired = flowRule?.required === true;
  const runRequired = runRule !== undefined && runRule.required !== false;
  if (!flowRequired && !runRequired) return undefined;
  const flowApprovers = flowRequired ? (flowRule?.approvers ?? []) : [];
  const runApprovers = runRule?.approvers ?? [];
  let approvers: string[];
  if (flowApprovers.length === 0) approvers = [...new Set(runApprovers)];
  else if (runApprovers.length === 0) approvers = flowApprovers;
  else {
    approvers = flowApprovers.filter((a) => runApprovers.includes(a));
    if (approvers.length === 0)
      throw new ValidationError("None of the run's approvers may approve under the flow's approval rule", {
        field: 'approval.approvers',
        reason: `a run may only narrow the flow's approvers (${flowApprovers.join(', ')})`,
      });
  }
  return {
    approvers,
    no_self_approval: (flowRequired && flowRule?.no_self_approval === true) || runRule?.no_self_approval === true,
  };
}
