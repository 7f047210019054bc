import { NodeError, type NodeTypeModule } from './types';

/** How a branch ended, as the join sees it. */
export interface BranchOutcome {
  status: 'completed' | 'failed' | 'cancelled';
  output: unknown;
  error: string | null;
}

export const join: NodeTypeModule = {
  type: 'join',
  category: 'control',
  displayName: 'Join',
  description:
    "Where a parallel's branches meet. It runs exactly once, when its rule is met: `wait_for: all` (default), `any`, or `n` branches completed. `on_failure: fail_fast` (default) cancels the other branches (aborting their HTTP calls) as soon as the rule can no longer be met; `wait_all` lets every branch finish, then decides. A join whose rule is not met fails (its `error` edge catches it).",
  output: "each completed branch's output under the branch's name (null for a branch that failed or was cancelled)",
  outputSchema: { type: 'object', additionalProperties: {} },
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      wait_for: { type: 'string', enum: ['all', 'any', 'n'], description: 'Default: all' },
      n: { type: 'integer', minimum: 1, description: 'With wait_for n: how many branches must complete' },
      on_failure: { type: 'string', enum: ['fail_fast', 'wait_all'], description: 'Default: fail_fast' },
    },
    if: { properties: { wait_for: { const: 'n' } }, required: ['wait_for'] },
    then: { required: ['n'] },
  },
  execute: async (ctx) => {
    const state = ctx.state?.join as { outcomes: Record<string, BranchOutcome>; met: boolean } | undefined;
    if (!state) throw new NodeError('a join runs only when the branches of its parallel arrive', false, true);
    const output: Record<string, unknown> = {};
    for (const [name, o] of Object.entries(state.outcomes)) output[name] = o.status === 'completed' ? o.output : null;
    if (state.met) {
      for (const [name, o] of Object.entries(state.outcomes))
        if (o.status !== 'completed') ctx.log('warn', `Branch "${name}" ${o.status}${o.error ? `: ${o.error}` : ''}`);
      return { output };
    }
    const why = Object.entries(state.outcomes)
      .filter(([, o]) => o.status === 'failed')
      .map(([name, o]) => `"${name}" failed: ${o.error}`)
      .join('; ');
    const error = new NodeError(`the branches did not meet the join's rule${why ? ` (${why})` : ''}`);
    (error as NodeError & { output?: unknown }).output = state.outcomes;
    throw error;
  },
};
