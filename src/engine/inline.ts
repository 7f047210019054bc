/**
 * Which nodes may run in memory, without a commit of their own: a node whose type computes from
 * its context alone (`inline`: transform, condition, switch, set, log, fail) and whose every
 * expression — its own, its templates, the flow's `output` should the execution end there — is
 * plain, so it runs in this process in time linear in its text and data (expressions.ts), never in
 * the sandbox and never stopped by one of its limits. Such a node runs before its start is written
 * (the starter), and right after the step before it, committing with it (the runner); it has no
 * effect outside its execution's row, so running it again after a crash changes nothing.
 */
import { nodeOf, type FlowDocument } from './definition';
import { isPlain } from './expressions';
import { nodeType } from './nodes';
import { expressionsIn } from './templates';

const inlineNodes = new WeakMap<FlowDocument, Map<string, boolean>>();

/** Whether this node of the (immutable, cached) document may run in memory. */
export function runsInline(document: FlowDocument, nodeId: string): boolean {
  let byNode = inlineNodes.get(document);
  if (!byNode) inlineNodes.set(document, (byNode = new Map()));
  let inline = byNode.get(nodeId);
  if (inline === undefined) {
    const node = nodeOf(document, nodeId);
    const module = node && nodeType(node.type);
    const params = node?.params ?? {};
    inline =
      !!module?.inline &&
      [
        ...(module.expressions?.(params) ?? []).map((e) => e.expression),
        ...expressionsIn(params),
        ...expressionsIn(document.output ?? null),
      ].every(isPlain);
    byNode.set(nodeId, inline);
  }
  return inline;
}

/** Whether a start of this definition may run its entry node before it is written. */
export function startsInline(document: FlowDocument): boolean {
  return document.entry !== undefined && runsInline(document, document.entry);
}
