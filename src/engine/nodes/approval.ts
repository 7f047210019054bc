import { TIMEOUT_MS, type NodeTypeModule } from './types';

export const approval: NodeTypeModule = {
  type: 'approval',
  category: 'human',
  description: 'Wait for a person to approve or reject (POST /executions/{id}/approve or /reject); follows `approved`, `rejected` or `timeout`.',
  output: '{decision, actor_id, comment}',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      approvers: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Account ids or "role:admin"; default: the owner and admins' },
      timeout_ms: TIMEOUT_MS,
      no_self_approval: { type: 'boolean', default: false, description: 'The account that started the execution may not approve it' },
    },
  },
  outcomes: () => ['approved', 'rejected', 'timeout'],
  breaksCycles: true,
};
