import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toExecution } from '../presenters/executions.presenter';
import { iso } from '../presenters/dates';
import { message } from './replies';

export function collaborationHandlers(s: Services): Handlers {
  return {
    approveExecution: async ({ actor, params, body }) => ({
      status: 200,
      body: toExecution(await s.approvals.decide(actor, params.id, 'approved', body.comment)),
    }),
    rejectExecution: async ({ actor, params, body }) => ({
      status: 200,
      body: toExecution(await s.approvals.decide(actor, params.id, 'rejected', body.comment)),
    }),
    signalExecution: async ({ actor, params, body }) => ({
      status: 200,
      body: toExecution(await s.inputs.signal(actor, params.id, body.node_id, body.outcome, body.values ?? {})),
    }),
    getExecutionValues: async ({ actor, params }) => ({
      status: 200,
      body: { values: await s.values.get(actor, params.id) },
    }),
    setExecutionValues: async ({ actor, params, body }) => ({
      status: 200,
      body: { values: await s.values.set(actor, params.id, body.values) },
    }),
    getExecutionValue: async ({ actor, params }) => ({
      status: 200,
      body: { name: params.name, value: await s.values.getOne(actor, params.id, params.name) },
    }),
    setExecutionValue: async ({ actor, params, body }) => ({
      status: 200,
      body: { name: params.name, value: await s.values.setOne(actor, params.id, params.name, body.value) },
    }),
    getExecutionNavigation: async ({ actor, params }) => ({
      status: 200,
      body: { items: await s.navigation.list(actor, params.id) },
    }),
    navigateExecution: async ({ actor, params, body }) => ({
      status: 200,
      body: toExecution(await s.navigation.navigate(actor, params.id, body.node)),
    }),
    getExecutionGraph: async ({ actor, params }) => ({
      status: 200,
      body: await s.graph.get(actor, params.id),
    }),
    listExecutionShares: async ({ actor, params }) => ({
      status: 200,
      body: {
        shares: (await s.shares.list(actor, params.id)).map((r) => ({
          account_id: r.account_id,
          email: r.email,
          name: r.name,
          created_at: iso(r.created_at),
        })),
      },
    }),
    shareExecution: async ({ actor, params, body }) => {
      const r = await s.shares.add(actor, params.id, body.account_id);
      return {
        status: 201,
        body: { account_id: r.account_id, email: r.email, name: r.name, created_at: iso(r.created_at) },
      };
    },
    unshareExecution: async ({ actor, params }) => {
      await s.shares.remove(actor, params.id, params.account_id);
      return message('Share removed successfully');
    },
    exportExecution: async ({ actor, params }) => ({ status: 200, body: await s.packages.export(actor, params.id) }),
    importExecution: async ({ actor, body }) => {
      const ex = await s.packages.import(actor, body);
      return {
        status: 201,
        body: { execution_id: ex.id, flow_id: ex.flow_id, status: ex.status, created_at: iso(ex.created_at) },
        headers: { Location: `/api/v1/executions/${ex.id}` },
      };
    },
  };
}
