/** 000: one state value by name, and purging a finished execution. */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const WAITS =
  'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: go}]}\n    next: {go: done}\n  done:\n    type: transform\n    params: {expression: "$string(values.amount)"}\n';

describe('one state value, purge (000)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(alice, WAITS);
  });
  after(() => server.close());

  it('gets and sets one value by name, with the rules of the map', async () => {
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    await waitForExecution(alice, id, ['waiting']);
    await expectError(alice.client.hitl.getExecutionValue({ id, name: 'amount' }), 404, 'not_found');
    const set = await alice.client.hitl.setExecutionValue({ id, name: 'amount', stateValueSet: { value: 120 } });
    expect(set.data).to.deep.equal({ name: 'amount', value: 120 });
    await alice.client.hitl.setExecutionValue({ id, name: 'note', stateValueSet: { value: { a: [1] } } });
    expect((await alice.client.hitl.getExecutionValue({ id, name: 'amount' })).data).to.deep.equal({
      name: 'amount',
      value: 120,
    });
    expect((await alice.client.hitl.getExecutionValues({ id })).data.values).to.deep.equal({
      amount: 120,
      note: { a: [1] },
    });
    await expectError(alice.client.hitl.getExecutionValue({ id, name: 'toString' }), 404, 'not_found');
    await expectError(bob.client.hitl.getExecutionValue({ id, name: 'amount' }), 404, 'not_found');
    await expectError(
      bob.client.hitl.setExecutionValue({ id, name: 'amount', stateValueSet: { value: 1 } }),
      404,
      'not_found',
    );
    await expectError(
      alice.client.hitl.setExecutionValue({ id, name: 'amount', stateValueSet: {} as never }),
      400,
      'invalid_request',
    );
    await alice.client.hitl.signalExecution({ id, signal: { node_id: 'start', outcome: 'go' } });
    await waitForExecution(alice, id, ['completed']);
    await expectError(
      alice.client.hitl.setExecutionValue({ id, name: 'amount', stateValueSet: { value: 1 } }),
      409,
      'conflict',
    );
  });

  it('purges a finished execution with its steps and events; 409 while it waits; DELETE still cancels', async () => {
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {}, idempotencyKey: 'purge-key' }))
      .data.execution_id;
    await waitForExecution(alice, id, ['waiting']);
    await expectError(alice.client.executions.purgeExecution({ id }), 409, 'conflict');
    await expectError(bob.client.executions.purgeExecution({ id }), 404, 'not_found');
    expect((await alice.client.executions.cancelExecution({ id })).status).to.equal(200);
    await waitForExecution(alice, id, ['cancelled']);
    expect((await server.db('events').where({ execution_id: id })).length).to.be.above(0);
    const purged = await alice.client.executions.purgeExecution({ id });
    expect(purged.data.message).to.equal('Execution purged');
    await expectError(alice.client.executions.getExecution({ id }), 404, 'not_found');
    await expectError(alice.client.executions.purgeExecution({ id }), 404, 'not_found');
    for (const table of ['events', 'steps', 'tasks', 'idempotency_keys'])
      expect(await server.db(table).where({ execution_id: id }), table).to.deep.equal([]);
    // The key is free again: the same request starts a new execution.
    const again = (
      await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {}, idempotencyKey: 'purge-key' })
    ).data.execution_id;
    expect(again).not.to.equal(id);
  });
});
