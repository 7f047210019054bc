import { evaluate } from '../expressions';
import type { NodeTypeModule } from './types';

export const transform: NodeTypeModule = {
  type: 'transform',
  inline: true,
  category: 'data',
  displayName: 'Transform',
  description:
    'Evaluate a JSONata expression over the context ({input, nodes, secrets, execution}); its value is the output.',
  output: 'the value of the expression',
  outputSchema: { description: 'the value of the expression' },
  paramsSchema: {
    type: 'object',
    required: ['expression'],
    additionalProperties: false,
    properties: {
      expression: { type: 'string', minLength: 1, maxLength: 65_536, description: 'JSONata, without {{ }}' },
    },
  },
  expressions: (p) => [{ path: 'expression', expression: String(p.expression ?? '') }],
  execute: async (ctx) => ({ output: (await evaluate(String(ctx.params.expression), ctx.scope)) ?? null }),
};
