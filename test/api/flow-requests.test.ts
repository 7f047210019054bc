/** 001's flow requests: the resource, and starts that carry one out. */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('flow requests (001)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(
      alice,
      "nodes:\n  start:\n    type: transform\n    params: {expression: \"{'said': request.instructions, 'who': request.metadata.customer, 'n': input.n}\"}\n",
    );
  });
  after(() => server.close());

  it('creates, reads, lists, updates and deletes a flow request, with who made and changed it', async () => {
    const created = await alice.client.flowRequests.createFlowRequest({
      flowRequestCreate: {
        name: 'Weekly',
        instructions: 'Remind them',
        metadata: { customer: 'acme' },
        flow_id: flowId,
      },
    });
    expect(created.status).to.equal(201);
    expect(created.data).to.include({
      name: 'Weekly',
      instructions: 'Remind them',
      flow_id: flowId,
      created_by: alice.account.id,
      updated_by: alice.account.id,
    });
    expect(created.data.id).to.match(/^freq-/);
    const id = created.data.id;
    expect((await alice.client.flowRequests.getFlowRequest({ id })).data).to.deep.equal(created.data);
    const other = (await alice.client.flowRequests.createFlowRequest({ flowRequestCreate: { instructions: 'Other' } }))
      .data;
    expect(other).to.include({ name: null, flow_id: null });
    expect(other.metadata).to.deep.equal({});
    const listed = (await alice.client.flowRequests.listFlowRequests({})).data;
    expect(listed.flow_requests.map((r) => r.id)).to.deep.equal([other.id, id]);
    expect(listed.total).to.equal(2);
    expect(
      (await alice.client.flowRequests.listFlowRequests({ flowId })).data.flow_requests.map((r) => r.id),
    ).to.deep.equal([id]);
    const updated = await alice.client.flowRequests.updateFlowRequest({
      id,
      flowRequestUpdate: { instructions: 'Remind them twice', name: null },
    });
    expect(updated.data).to.include({ instructions: 'Remind them twice', name: null, flow_id: flowId });
    expect(updated.data.metadata).to.deep.equal({ customer: 'acme' });
    expect(new Date(updated.data.updated_at).getTime()).to.be.at.least(new Date(created.data.updated_at).getTime());
    await expectError(
      alice.client.flowRequests.createFlowRequest({ flowRequestCreate: { name: 'x' } as never }),
      400,
      'invalid_request',
    );
    await expectError(
      alice.client.flowRequests.updateFlowRequest({ id, flowRequestUpdate: {} }),
      400,
      'invalid_request',
    );
    expect((await alice.client.flowRequests.deleteFlowRequest({ id: other.id })).data.message).to.be.a('string');
    await expectError(alice.client.flowRequests.getFlowRequest({ id: other.id }), 404, 'not_found');
  });

  it("keeps each account's requests its own (404), and refuses another account's flow", async () => {
    const mine = (await alice.client.flowRequests.createFlowRequest({ flowRequestCreate: { instructions: 'Mine' } }))
      .data;
    await expectError(bob.client.flowRequests.getFlowRequest({ id: mine.id }), 404, 'not_found');
    await expectError(
      bob.client.flowRequests.updateFlowRequest({ id: mine.id, flowRequestUpdate: { instructions: 'x' } }),
      404,
      'not_found',
    );
    await expectError(bob.client.flowRequests.deleteFlowRequest({ id: mine.id }), 404, 'not_found');
    expect((await bob.client.flowRequests.listFlowRequests({})).data.flow_requests).to.deep.equal([]);
    await expectError(
      bob.client.flowRequests.createFlowRequest({ flowRequestCreate: { instructions: 'x', flow_id: flowId } }),
      404,
      'not_found',
    );
    await expectError(
      bob.client.runs.startRun({ runStartRequest: { flow_id: flowId, flow_request_id: mine.id } }),
      404,
      'not_found',
    );
    const bobFlow = await makeFlow(bob, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n');
    await expectError(
      bob.client.executions.runFlow({ id: bobFlow, runFlowRequest: { flow_request_id: mine.id } }),
      404,
      'not_found',
    );
  });

  it('starts carry a request out: templates read request.*, executions and runs show its id', async () => {
    const req = (
      await alice.client.flowRequests.createFlowRequest({
        flowRequestCreate: { instructions: 'Ship it', metadata: { customer: 'acme' }, flow_id: flowId },
      })
    ).data;
    // The batched start path (no key) and the transaction path (an Idempotency-Key) alike.
    const plain = (
      await alice.client.runs.startRun({
        runStartRequest: { flow_id: flowId, flow_request_id: req.id, input: { n: 1 } },
      })
    ).data;
    const keyed = (
      await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { flow_request_id: req.id, input: { n: 2 } },
        idempotencyKey: 'fr-key',
      })
    ).data;
    const a = await waitForExecution(alice, plain.id);
    const b = await waitForExecution(alice, keyed.execution_id);
    expect(a.result).to.deep.equal({ said: 'Ship it', who: 'acme', n: 1 });
    expect(b.result).to.deep.equal({ said: 'Ship it', who: 'acme', n: 2 });
    expect([a.flow_request_id, b.flow_request_id]).to.deep.equal([req.id, req.id]);
    expect((await alice.client.runs.getRun({ runId: plain.id })).data.flow_request_id).to.equal(req.id);
    const listed = (await alice.client.executions.listExecutions({ flowId })).data.executions;
    expect(listed.find((e) => e.id === plain.id)?.flow_request_id).to.equal(req.id);
    // The same key with another request is another request.
    await expectError(
      alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 2 } }, idempotencyKey: 'fr-key' }),
      409,
      'conflict',
    );
    // An execution keeps what it started with: a later edit or delete changes nothing.
    await alice.client.flowRequests.deleteFlowRequest({ id: req.id });
    expect((await alice.client.executions.getExecution({ id: plain.id })).data.flow_request_id).to.equal(req.id);
    // Without a request, `request` is null and the id too.
    const none = (await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, input: { n: 3 } } })).data;
    const c = await waitForExecution(alice, none.id);
    expect(c.flow_request_id).to.equal(null);
    expect(c.result).to.deep.equal({ n: 3 });
  });

  it('refuses a request made for another flow (422 on flow_request_id)', async () => {
    const other = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n');
    const req = (
      await alice.client.flowRequests.createFlowRequest({ flowRequestCreate: { instructions: 'x', flow_id: flowId } })
    ).data;
    const err = await expectError(
      alice.client.runs.startRun({ runStartRequest: { flow_id: other, flow_request_id: req.id } }),
      422,
      'validation_error',
    );
    expect(err.details?.field).to.equal('flow_request_id');
  });
});
