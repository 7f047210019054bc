import { HUMAN_TIMEOUT_MS, NodeError, type NodeTypeModule } from './types';

/** 000's event: the execution waits, holding no worker, until its account posts a matching event. */
export const event: NodeTypeModule = {
  type: 'event',
  category: 'integration',
  displayName: 'Wait for an event',
  description:
    'Wait until the account posts an event with this name and correlation (POST /api/v1/events); its payload becomes the output. Both params may be templates (`{{ input.order_id }}`).',
  output: '{name, correlation, payload}',
  outputSchema: {
    type: 'object',
    properties: { name: { type: 'string' }, correlation: { type: 'string' }, payload: {} },
    required: ['name', 'correlation', 'payload'],
  },
  paramsSchema: {
    type: 'object',
    required: ['name', 'correlation'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      correlation: { type: 'string', minLength: 1, maxLength: 200 },
      timeout_ms: HUMAN_TIMEOUT_MS,
    },
  },
  outcomes: () => ['timeout'],
  breaksCycles: true,
  execute: async (ctx) => {
    const got = ctx.state?.event as { name: string; correlation: string; payload: unknown } | undefined;
    if (got) return { output: got };
    if (ctx.state?.timeout) {
      if (!ctx.edges.includes('timeout')) throw new NodeError('no event before the deadline');
      return {
        output: { name: ctx.params.name, correlation: ctx.params.correlation, payload: null },
        outcome: 'timeout',
      };
    }
    const timeout = ctx.params.timeout_ms as number | undefined;
    return {
      wait: {
        kind: 'event',
        event: { name: String(ctx.params.name), correlation: String(ctx.params.correlation) },
        deadline: timeout ? new Date(Date.now() + timeout).toISOString() : null,
      },
    };
  },
};
