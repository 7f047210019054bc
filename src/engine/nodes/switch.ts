import { firstTruthy } from '../expressions';
import type { NodeTypeModule } from './types';

interface Case {
  name?: unknown;
  when?: unknown;
}

const cases = (p: Record<string, unknown>): Case[] => (Array.isArray(p.cases) ? (p.cases as Case[]) : []);

export const switchNode: NodeTypeModule = {
  type: 'switch',
  inline: true,
  category: 'control',
  displayName: 'Switch',
  description: 'Follow the edge named by the first case whose `when` expression is truthy, else `default`.',
  output: '{case: string | null}',
  outputSchema: { type: 'object', properties: { case: { type: ['string', 'null'] } }, required: ['case'] },
  paramsSchema: {
    type: 'object',
    required: ['cases'],
    additionalProperties: false,
    properties: {
      cases: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: {
          type: 'object',
          required: ['name', 'when'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' },
            when: { type: 'string', minLength: 1, maxLength: 65_536, description: 'JSONata, without {{ }}' },
          },
        },
      },
    },
  },
  outcomes: (p) => cases(p).map((c) => String(c.name)),
  expressions: (p) => cases(p).map((c, i) => ({ path: `cases.${i}.when`, expression: String(c.when ?? '') })),
  breaksCycles: true,
  execute: async (ctx) => {
    const all = cases(ctx.params);
    // One job for all the cases: in order, stopping at the first truthy one.
    const i = await firstTruthy(
      all.map((c) => String(c.when)),
      ctx.scope,
    );
    if (i < 0) return { output: { case: null } };
    return { output: { case: String(all[i].name) }, outcome: String(all[i].name) };
  },
};
