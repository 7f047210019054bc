/** 000's navigation: a waiting execution lists its definition's targets and can be moved to one. */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const FLOW = `navigation:
  - {label: Back to review, node: review}
  - {label: Skip to the end, node: done}
nodes:
  start:
    type: log
    params: {message: hi}
    next: review
  review:
    type: input
    params: {outcomes: [{name: ok}]}
    next: {ok: done}
  done:
    type: transform
    params: {expression: "'done'"}
`;

describe('navigation (000)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(alice, FLOW);
  });
  after(() => server.close());

  it('lists the targets (enabled or not) and moves a waiting execution, recorded as a step with who', async () => {
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    await waitForExecution(alice, id, ['waiting']);
    const nav = (await alice.client.hitl.getExecutionNavigation({ id })).data.items;
    expect(nav).to.deep.equal([
      { label: 'Back to review', node: 'review', enabled: false },
      { label: 'Skip to the end', node: 'done', enabled: true },
    ]);
    await expectError(bob.client.hitl.getExecutionNavigation({ id }), 404, 'not_found');
    const err = await expectError(
      alice.client.hitl.navigateExecution({ id, navigateRequest: { node: 'start' } }),
      422,
      'validation_error',
    );
    expect(err.details?.field).to.equal('node');
    const moved = await alice.client.hitl.navigateExecution({ id, navigateRequest: { node: 'done' } });
    expect(moved.status).to.equal(200);
    const done = await waitForExecution(alice, id);
    expect(done).to.include({ status: 'completed', result: 'done' });
    const steps = (await alice.client.executions.getExecutionSteps({ id })).data.steps;
    const step = steps.find((s) => s.node_type === 'navigation')!;
    expect(step).to.include({ node_id: 'review', status: 'completed' });
    expect(step.output).to.deep.equal({ to: 'done', label: 'Skip to the end', actor_id: alice.account.id });
    expect((await alice.client.hitl.getExecutionNavigation({ id })).data.items.every((i) => !i.enabled)).to.equal(true);
    await expectError(alice.client.hitl.navigateExecution({ id, navigateRequest: { node: 'done' } }), 409, 'conflict');
  });

  it('refuses a definition whose navigation names no node', async () => {
    const err = await expectError(
      alice.client.flows.createFlow({
        flowCreate: {
          name: 'bad-nav',
          definition:
            'navigation: [{label: x, node: nowhere}]\nnodes:\n  start:\n    type: log\n    params: {message: hi}\n',
        },
      }),
      422,
      'validation_error',
    );
    expect(JSON.stringify(err.details)).to.include('navigation.0.node');
  });
});
