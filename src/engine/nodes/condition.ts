import { isTruthy } from '../expressions';
import type { NodeTypeModule } from './types';

export const condition: NodeTypeModule = {
  type: 'condition',
  inline: true,
  category: 'control',
  displayName: 'Condition',
  description:
    'Evaluate a JSONata expression and follow the `true` or `false` edge (`default` when that one is missing).',
  output: '{value: boolean}',
  outputSchema: { type: 'object', properties: { value: { type: 'boolean' } }, required: ['value'] },
  paramsSchema: {
    type: 'object',
    required: ['expression'],
    additionalProperties: false,
    properties: {
      expression: {
        type: 'string',
        minLength: 1,
        maxLength: 65_536,
        description: 'JSONata, without {{ }}; truthy follows `true`',
      },
    },
  },
  outcomes: () => ['true', 'false'],
  expressions: (p) => [{ path: 'expression', expression: String(p.expression ?? '') }],
  breaksCycles: true,
  execute: async (ctx) => {
    const value = await isTruthy(String(ctx.params.expression), ctx.scope);
    return { output: { value }, outcome: String(value) };
  },
};
