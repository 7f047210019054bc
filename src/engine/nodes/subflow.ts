import { NodeError, type NodeTypeModule } from './types';

export const MAX_SUBFLOW_DEPTH = 10;

interface ChildOutcome {
  id: string;
  status: 'completed' | 'failed' | 'cancelled';
  result: unknown;
  error: string | null;
}

export const subflow: NodeTypeModule = {
  type: 'subflow',
  category: 'control',
  displayName: 'Subflow',
  description:
    'Run another flow of the same account and wait for it without holding a worker; its result is the output. Failure and cancellation propagate both ways; nesting is limited to 10 levels.',
  output: "the child execution's result",
  outputSchema: { description: "the child execution's result" },
  paramsSchema: {
    type: 'object',
    required: ['flow_id'],
    additionalProperties: false,
    properties: {
      flow_id: { type: 'string', minLength: 1 },
      version: { type: 'integer', minimum: 1, description: 'Default: the current version' },
      input: { type: 'object', description: 'The child execution input (templates allowed)' },
    },
  },
  breaksCycles: true,
  execute: async (ctx) => {
    const child = ctx.state?.child as ChildOutcome | undefined;
    if (child) {
      if (child.status === 'completed') return { output: child.result ?? null };
      if (child.status === 'cancelled') return { cancel: `the subflow execution ${child.id} was cancelled` };
      throw new NodeError(`the subflow execution ${child.id} failed: ${child.error ?? 'unknown error'}`);
    }
    if (ctx.engine.execution.depth + 1 > MAX_SUBFLOW_DEPTH)
      throw new NodeError(`subflows nest at most ${MAX_SUBFLOW_DEPTH} levels deep`);
    const flow = await ctx.engine.resolveFlow(String(ctx.params.flow_id), ctx.params.version as number | undefined);
    const input = (ctx.params.input ?? {}) as Record<string, unknown>;
    if (typeof input !== 'object' || Array.isArray(input)) throw new NodeError('subflow input must be an object');
    return { wait: { kind: 'subflow', child: { ...flow, input } } };
  },
};
