import crypto from 'node:crypto';
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { eventually } from '../support/eventually';
import { startTarget, type Target } from '../support/target';

/** The documented recipe: HMAC-SHA256 over "<t>.<body>" with the listener's secret. */
function verify(header: string, body: string, secret: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const expected = crypto.createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(parts.v1));
}

describe('listeners: signed webhooks of execution events', () => {
  let server: TestServer;
  let receiver: Target;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    receiver = await startTarget();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: log\n    params: {message: one}\n    next: done\n  done:\n    type: transform\n    params: {expression: "2"}\n',
    );
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  const received = (path: string) => receiver.hits.filter((h) => h.path === path);
  /** Waits for at least `n` calls on `path`; callers then check there are exactly as many as due. */
  const receivedAtLeast = (path: string, n: number) =>
    eventually(() => expect(received(path)).to.have.length.of.at.least(n), {
      timeout: 20_000,
      what: `${n} deliveries to ${path}`,
    });
  /** The outbox rows of an execution's events, oldest first. */
  const deliveriesOf = (executionId: string) =>
    server
      .db('deliveries')
      .join('events', 'events.id', 'deliveries.event_id')
      .where('events.execution_id', executionId)
      .orderBy('deliveries.id')
      .select('deliveries.listener_id', 'deliveries.attempts', 'deliveries.delivered_at', 'events.seq');
  const allDelivered = (executionId: string) =>
    eventually(
      async () => {
        const rows = await deliveriesOf(executionId);
        expect(rows.filter((r) => !r.delivered_at).map((r) => r.seq)).to.deep.equal([]);
        return rows;
      },
      { timeout: 20_000, what: `every delivery of ${executionId}'s events to be marked delivered` },
    );

  it('delivers every event of an execution, in order, signed; the secret is shown once', async () => {
    receiver.route('/all', (_req, _body, res) => res.writeHead(204).end());
    const { data: run } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const { data: listener, status } = await alice.client.listeners.createExecutionListener({
      id: run.execution_id,
      listenerCreate: {
        url: `${receiver.url}/all`,
      },
    });
    expect(status).to.equal(201);
    expect(listener.secret).to.match(/^whsec_/);
    await waitForExecution(alice, run.execution_id);
    const stored = (await alice.client.executions.getExecutionEvents({ id: run.execution_id })).data.events;
    await receivedAtLeast('/all', stored.length);

    const hits = received('/all');
    expect(hits.map((h) => JSON.parse(h.body).seq)).to.deep.equal(stored.map((e) => e.seq));
    expect(hits.map((h) => JSON.parse(h.body))).to.deep.equal(stored);
    for (const h of hits) {
      expect(verify(String(h.headers['x-flowrunner-signature']), h.body, listener.secret!)).to.equal(true);
      expect(h.headers['content-type']).to.equal('application/json');
    }
    expect(verify(String(hits[0].headers['x-flowrunner-signature']), hits[0].body + ' ', listener.secret!)).to.equal(
      false,
    );

    const listed = (await alice.client.listeners.listExecutionListeners({ id: run.execution_id })).data.listeners;
    expect(listed).to.have.length(1);
    expect(listed[0]).not.to.have.property('secret');
    const rows = await allDelivered(run.execution_id);
    expect(rows.map((r) => [r.listener_id, r.seq, r.attempts])).to.deep.equal(
      stored.map((e) => [listener.id, e.seq, 1]),
    );
    const [after] = (await alice.client.listeners.listExecutionListeners({ id: run.execution_id })).data.listeners;
    expect(after.last_delivery_status).to.equal('delivered');
  });

  it('retries after a 500 from the receiver, keeping the order', async () => {
    let calls = 0;
    receiver.route('/flaky', (_req, _body, res) => {
      calls++;
      res.writeHead(calls === 1 ? 500 : 200).end();
    });
    const { data: run } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await waitForExecution(alice, run.execution_id);
    await alice.client.listeners.createExecutionListener({
      id: run.execution_id,
      listenerCreate: {
        url: `${receiver.url}/flaky`,
        events: ['execution_update', 'execution_completed'],
      },
    });
    const stored = (await alice.client.executions.getExecutionEvents({ id: run.execution_id })).data.events.filter(
      (e) => ['execution_update', 'execution_completed'].includes(e.type),
    );
    await receivedAtLeast('/flaky', stored.length + 1);
    const seqs = received('/flaky').map((h) => JSON.parse(h.body).seq);
    expect(seqs).to.deep.equal([stored[0].seq, ...stored.map((e) => e.seq)]);
    const rows = await allDelivered(run.execution_id);
    expect(rows.map((r) => r.attempts)).to.deep.equal([2, ...stored.slice(1).map(() => 1)]);
  });

  it('a flow listener hears every execution of the flow; removing it stops deliveries', async () => {
    receiver.route('/flow', (_req, _body, res) => res.writeHead(200).end());
    const { data: listener } = await alice.client.listeners.createFlowListener({
      id: flowId,
      listenerCreate: {
        url: `${receiver.url}/flow`,
        events: ['execution_completed'],
      },
    });
    const a = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    const b = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    await receivedAtLeast('/flow', 2);
    expect(
      received('/flow')
        .map((h) => JSON.parse(h.body).execution_id)
        .sort(),
    ).to.deep.equal([a, b].sort());
    expect(
      (await alice.client.listeners.listFlowListeners({ id: flowId })).data.listeners.map((l) => l.id),
    ).to.deep.equal([listener.id]);
    expect((await deliveriesOf(a)).map((r) => r.listener_id)).to.deep.equal([listener.id]);
    await alice.client.listeners.deleteFlowListener({ id: flowId, listenerId: listener.id });
    const c = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    await waitForExecution(alice, c);
    // The outbox is written with the events: nothing queued for c means nothing will be sent.
    expect(await deliveriesOf(c)).to.deep.equal([]);
    expect(received('/flow')).to.have.length(2);
    await expectError(
      alice.client.listeners.deleteFlowListener({ id: flowId, listenerId: listener.id }),
      404,
      'not_found',
    );
  });

  it("is 404 on another account's execution or flow, and checks the URL", async () => {
    const { data: run } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await expectError(
      bob.client.listeners.createExecutionListener({
        id: run.execution_id,
        listenerCreate: { url: `${receiver.url}/x` },
      }),
      404,
      'not_found',
    );
    await expectError(bob.client.listeners.listExecutionListeners({ id: run.execution_id }), 404, 'not_found');
    await expectError(
      bob.client.listeners.createFlowListener({ id: flowId, listenerCreate: { url: `${receiver.url}/x` } }),
      404,
      'not_found',
    );
    await expectError(bob.client.listeners.listFlowListeners({ id: flowId }), 404, 'not_found');
    const { data: mine } = await alice.client.listeners.createExecutionListener({
      id: run.execution_id,
      listenerCreate: {
        url: `${receiver.url}/x`,
      },
    });
    await expectError(
      bob.client.listeners.deleteExecutionListener({ id: run.execution_id, listenerId: mine.id }),
      404,
      'not_found',
    );
    // Refused without a trace: bob made no listener, and alice's is still there.
    expect(
      (await alice.client.listeners.listExecutionListeners({ id: run.execution_id })).data.listeners.map((l) => l.id),
    ).to.deep.equal([mine.id]);
    expect((await alice.client.listeners.listFlowListeners({ id: flowId })).data.listeners).to.deep.equal([]);
    expect(await server.db('listeners').where({ account_id: bob.account.id })).to.deep.equal([]);
    await expectError(
      alice.client.listeners.createExecutionListener({
        id: run.execution_id,
        listenerCreate: { url: 'ftp://example.com/x' },
      }),
      422,
      'validation_error',
    );
    await expectError(
      alice.client.listeners.createExecutionListener({ id: run.execution_id, listenerCreate: { url: 'not a url' } }),
      400,
      'invalid_request',
    );
  });
});
