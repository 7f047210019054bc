import type { NodeTypeModule } from './types';

export const subflow: NodeTypeModule = {
  type: 'subflow',
  category: 'control',
  description: 'Run another flow and wait for it without holding a worker; its result is the output. Failure and cancellation propagate; depth is limited to 10.',
  output: "the child execution's result",
  paramsSchema: {
    type: 'object',
    required: ['flow_id'],
    additionalProperties: false,
    properties: {
      flow_id: { type: 'string', minLength: 1 },
      version: { type: 'integer', minimum: 1, description: 'Default: the current version' },
      input: { description: 'The child execution input (templates allowed)' },
    },
  },
  breaksCycles: true,
};
