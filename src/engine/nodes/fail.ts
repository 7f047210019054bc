import { NodeError, type NodeTypeModule } from './types';

export const fail: NodeTypeModule = {
  type: 'fail',
  inline: true,
  category: 'control',
  displayName: 'Fail',
  description: 'End the execution as failed with a message.',
  output: 'none: the execution fails',
  outputSchema: { not: {} },
  paramsSchema: {
    type: 'object',
    required: ['message'],
    additionalProperties: false,
    properties: { message: { type: 'string', minLength: 1, maxLength: 65_536 } },
  },
  execute: async (ctx) => {
    throw new NodeError(String(ctx.params.message), false, true);
  },
};
