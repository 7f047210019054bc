import { HUMAN_TIMEOUT_MS, NodeError, type NodeTypeModule } from './types';

interface Decision {
  decision: 'approved' | 'rejected';
  actor_id: string;
  comment?: string | null;
}

export const approval: NodeTypeModule = {
  type: 'approval',
  category: 'human',
  displayName: 'Approval',
  description:
    'Wait for a person to approve or reject (POST /executions/{id}/approve or /reject); follows `approved`, `rejected` or `timeout`. A rejection without a `rejected` edge cancels the execution.',
  output: '{decision, actor_id, comment}',
  outputSchema: {
    type: 'object',
    properties: {
      decision: { type: 'string', enum: ['approved', 'rejected'] },
      actor_id: { type: 'string' },
      comment: { type: ['string', 'null'] },
    },
  },
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      approvers: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description: 'Account ids or "role:admin"; default: anyone who may see the execution',
      },
      timeout_ms: HUMAN_TIMEOUT_MS,
      no_self_approval: {
        type: 'boolean',
        default: false,
        description: 'The account that started the execution may not approve it',
      },
    },
  },
  outcomes: () => ['approved', 'rejected', 'timeout'],
  breaksCycles: true,
  execute: async (ctx) => {
    const decision = ctx.state?.decision as Decision | undefined;
    if (decision) {
      const output = { decision: decision.decision, actor_id: decision.actor_id, comment: decision.comment ?? null };
      if (decision.decision === 'rejected' && !ctx.edges.includes('rejected'))
        return { output, actorId: decision.actor_id, cancel: `Rejected by ${decision.actor_id}` };
      return { output, outcome: decision.decision, actorId: decision.actor_id };
    }
    if (ctx.state?.timeout) {
      if (!ctx.edges.includes('timeout')) throw new NodeError('no decision before the approval deadline');
      return { output: { decision: 'timeout', actor_id: null, comment: null }, outcome: 'timeout' };
    }
    const timeout = ctx.params.timeout_ms as number | undefined;
    return {
      wait: {
        kind: 'approval',
        approvers: (ctx.params.approvers as string[] | undefined) ?? [],
        no_self_approval: Boolean(ctx.params.no_self_approval),
        deadline: timeout ? new Date(Date.now() + timeout).toISOString() : null,
      },
    };
  },
};
