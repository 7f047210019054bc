import { MAX_SUBFLOW_DEPTH } from './subflow';
import { NodeError, type NodeTypeModule } from './types';

/** The most items one foreach takes (documented in the README). */
export const MAX_FOREACH_ITEMS = 10_000;
export const DEFAULT_FOREACH_CONCURRENCY = 10;

/** What a foreach's iterations gave, in item order, handed to its last run. */
export interface ForeachOutcome {
  results: unknown[];
  errors: { index: number; error: string }[];
  /** The first failed item, when on_item_error is fail. */
  failed?: { index: number; error: string };
}

export const foreach: NodeTypeModule = {
  type: 'foreach',
  category: 'control',
  displayName: 'For each',
  description: `Run the nodes its \`each\` edge leads to (or a subflow: \`flow_id\`) once per item of \`items\`, at most \`concurrency\` (default ${DEFAULT_FOREACH_CONCURRENCY}) at a time, each iteration a child execution that sees \`item\` and \`index\` in its templates (a subflow gets \`{item, index}\` as its input). At most ${MAX_FOREACH_ITEMS} items. Results keep the items' order. \`on_item_error: fail\` (default) stops at the first failed item (cancelling the running ones); \`continue\` collects per-item errors next to the results. The execution's \`progress.foreach\` shows done/total and the failed items with their iterations; a retry runs only the items that did not complete, and an iteration can be retried on its own.`,
  output: '{results: [one per item, in order; null for a failed item], errors: [{index, error}]}',
  outputSchema: {
    type: 'object',
    properties: {
      results: { type: 'array' },
      errors: {
        type: 'array',
        items: { type: 'object', properties: { index: { type: 'integer' }, error: { type: 'string' } } },
      },
    },
    required: ['results', 'errors'],
  },
  paramsSchema: {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: {
      items: {
        type: 'array',
        maxItems: MAX_FOREACH_ITEMS,
        description: 'The list (usually a template such as "{{ nodes.fetch.output.body }}")',
      },
      concurrency: { type: 'integer', minimum: 1, maximum: 100, description: 'Iterations at a time; default 10' },
      on_item_error: { type: 'string', enum: ['fail', 'continue'], description: 'Default: fail' },
      flow_id: { type: 'string', minLength: 1, description: 'Run this flow per item instead of the `each` nodes' },
      version: { type: 'integer', minimum: 1, description: "The subflow's version; default its current one" },
    },
  },
  outcomes: () => ['each'],
  breaksCycles: true,
  execute: async (ctx) => {
    const done = ctx.state?.foreach as ForeachOutcome | undefined;
    if (done) {
      if (done.failed) {
        const error = new NodeError(`item ${done.failed.index} failed: ${done.failed.error}`);
        (error as NodeError & { output?: unknown }).output = { results: done.results, errors: done.errors };
        throw error;
      }
      return { output: { results: done.results, errors: done.errors } };
    }
    const items = ctx.params.items;
    if (!Array.isArray(items)) throw new NodeError('foreach: items must be a list');
    if (items.length > MAX_FOREACH_ITEMS)
      throw new NodeError(`foreach: at most ${MAX_FOREACH_ITEMS} items, this list has ${items.length}`);
    if (ctx.engine.execution.depth + 1 > MAX_SUBFLOW_DEPTH)
      throw new NodeError(`foreach iterations and subflows nest at most ${MAX_SUBFLOW_DEPTH} levels deep`);
    const subflow =
      ctx.params.flow_id !== undefined
        ? await ctx.engine.resolveFlow(String(ctx.params.flow_id), ctx.params.version as number | undefined)
        : undefined;
    return {
      control: {
        kind: 'foreach',
        items,
        concurrency: (ctx.params.concurrency as number | undefined) ?? DEFAULT_FOREACH_CONCURRENCY,
        on_item_error: (ctx.params.on_item_error as 'fail' | 'continue' | undefined) ?? 'fail',
        subflow,
      },
    };
  },
};
