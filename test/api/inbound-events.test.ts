/**
 * 000's events: a posted event resumes the executions waiting for its name and correlation in the
 * organizations where the caller may run executions.
 */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const WAITS_FOR_PAYMENT =
  'nodes:\n  start:\n    type: event\n    params: {name: payment.received, correlation: "{{ input.order }}"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.payload.amount"}\n';

describe('inbound events (000)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(alice, WAITS_FOR_PAYMENT);
  });
  after(() => server.close());

  const start = async (order: string) => {
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { order } } })).data
      .execution_id;
    return waitForExecution(alice, id, ['waiting']);
  };

  it('resumes every waiting execution whose name and correlation match, and says how many', async () => {
    const a1 = await start('42');
    const a2 = await start('42');
    const other = await start('43');
    expect(a1.waiting_for).to.deep.include({ kind: 'event', event: { name: 'payment.received', correlation: '42' } });
    // Another account's event resumes nothing of Alice's.
    const stranger = await bob.client.events.postEvent({
      eventPost: { name: 'payment.received', correlation: '42', payload: { amount: 1 } },
    });
    expect(stranger.data).to.deep.equal({ resumed: 0, execution_ids: [] });
    const res = await alice.client.events.postEvent({
      eventPost: { name: 'payment.received', correlation: '42', payload: { amount: 120 } },
    });
    expect(res.data.resumed).to.equal(2);
    expect(res.data.execution_ids).to.have.members([a1.id, a2.id]);
    expect((await waitForExecution(alice, a1.id)).result).to.equal(120);
    expect((await waitForExecution(alice, a2.id)).result).to.equal(120);
    expect((await alice.client.executions.getExecution({ id: other.id })).data.status).to.equal('waiting');
    // Nothing waits any more for 42: a second post resumes none.
    const again = await alice.client.events.postEvent({ eventPost: { name: 'payment.received', correlation: '42' } });
    expect(again.data.resumed).to.equal(0);
    const wrongName = await alice.client.events.postEvent({ eventPost: { name: 'payment.sent', correlation: '43' } });
    expect(wrongName.data.resumed).to.equal(0);
    await expectError(alice.client.events.postEvent({ eventPost: { name: 'x' } as never }), 400, 'invalid_request');
    await alice.client.executions.cancelExecution({ id: other.id });
  });

  it('shows the event node in the catalog, and refuses one without its params at save', async () => {
    const t = (await alice.client.nodeTypes.getNodeType({ type: 'event' })).data;
    expect(t.outcomes).to.deep.equal(['timeout']);
    await expectError(
      alice.client.flows.createFlow({
        flowCreate: { name: 'bad-event', definition: 'nodes:\n  start:\n    type: event\n    params: {name: x}\n' },
      }),
      422,
      'validation_error',
    );
  });

  it("resumes a team's executions for any member who may run them, and none for a viewer or an outsider", async () => {
    const team = (await alice.client.organizations.createOrganization({ organizationCreate: { name: 'Shop' } })).data
      .id;
    const runner = await makeAccount(server);
    const viewer = await makeAccount(server);
    for (const [member, role] of [
      [runner, 'runner'],
      [viewer, 'viewer'],
    ] as const)
      await alice.client.organizations.addOrganizationMember({
        id: team,
        organizationMemberAdd: { account_id: member.account.id, role },
      });
    const teamFlow = (
      await alice.client.flows.createFlow({
        flowCreate: { name: 'team-payments', definition: WAITS_FOR_PAYMENT, organization_id: team },
      })
    ).data.id;
    const id = (await alice.client.executions.runFlow({ id: teamFlow, runFlowRequest: { input: { order: 't-1' } } }))
      .data.execution_id;
    await waitForExecution(alice, id, ['waiting']);
    const event = { name: 'payment.received', correlation: 't-1', payload: { amount: 7 } };

    // A viewer may read it but not run it; Bob is no member: neither resumes it.
    for (const caller of [viewer, bob])
      expect((await caller.client.events.postEvent({ eventPost: event })).data).to.deep.equal({
        resumed: 0,
        execution_ids: [],
      });
    expect((await viewer.client.executions.getExecution({ id })).data.status).to.equal('waiting');

    // A runner did not start it, yet resumes it.
    const res = await runner.client.events.postEvent({ eventPost: event });
    expect(res.data).to.deep.equal({ resumed: 1, execution_ids: [id] });
    expect((await waitForExecution(alice, id)).result).to.equal(7);
  });
});
