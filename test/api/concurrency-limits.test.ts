/**
 * Issue 18's concurrency limits: a flow's `concurrency: {limit, key, on_limit}` and the reason
 * every queued execution gives for waiting. The flows call a real HTTP server on loopback that
 * holds each call until the test lets it go, so the test sees how many run at once.
 */
import { expect } from 'chai';
import type http from 'node:http';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

interface Held {
  key: string;
  execution: string;
  res: http.ServerResponse;
}

describe('concurrency limits (issue 18)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  /** Calls the target holds, by arrival; and the most that were in flight at once per key. */
  let held: Held[];
  let arrivals: Held[];
  let inFlight: Map<string, number>;
  let maxInFlight: Map<string, number>;

  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    target.route('/hold', (req, body, res) => {
      const { key, execution } = JSON.parse(body) as { key: string; execution: string };
      const call = { key, execution, res };
      held.push(call);
      arrivals.push(call);
      const now = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, now);
      maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, now));
    });
    alice = await makeAccount(server);
  });
  beforeEach(() => {
    held = [];
    arrivals = [];
    inFlight = new Map();
    maxInFlight = new Map();
  });
  after(async () => {
    for (const call of held) call.res.end();
    await target.close();
    await server.close();
  });

  /** Answers the held call of one execution (its key has one fewer in flight from now on). */
  const release = (call: Held) => {
    held.splice(held.indexOf(call), 1);
    inFlight.set(call.key, inFlight.get(call.key)! - 1);
    call.res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };

  const limitedFlow = (concurrency: string) =>
    makeFlow(
      alice,
      `concurrency: ${concurrency}
nodes:
  start:
    type: http.request
    params:
      url: "${target.url}/hold"
      method: POST
      body: {key: "{{ input.customer }}", execution: "{{ execution.id }}"}
      timeout_ms: 100000
`,
    );

  const start = async (flowId: string, customer: string) =>
    (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { customer } } })).data;

  it('runs at most `limit` executions per key under 50 concurrent starts; the rest queue and all finish', async () => {
    const flowId = await limitedFlow('{limit: 2, key: "{{ input.customer }}"}');
    const customers = ['a', 'b', 'c'];
    const starts = await Promise.all(Array.from({ length: 50 }, (_, i) => start(flowId, customers[i % 3])));
    const ids = starts.map((s) => s.execution_id);
    const remaining = new Map(customers.map((c, k) => [c, Math.floor(50 / 3) + (k < 50 % 3 ? 1 : 0)]));
    // Each round: every key fills its two slots (or runs what it has left), then one call per key ends.
    while ([...remaining.values()].some((n) => n > 0)) {
      await eventually(
        () => {
          for (const key of customers) expect(inFlight.get(key) ?? 0).to.equal(Math.min(2, remaining.get(key)!));
        },
        { timeout: 30_000, what: `each key to run min(2, what it has left): ${JSON.stringify([...remaining])}` },
      );
      for (const key of customers) {
        if (remaining.get(key) === 0) continue;
        release(held.find((h) => h.key === key)!);
        remaining.set(key, remaining.get(key)! - 1);
      }
    }
    for (const id of ids) expect((await waitForExecution(alice, id)).status).to.equal('completed');
    for (const key of customers) expect(maxInFlight.get(key)).to.equal(2);
    // Every call ran once, and no slot is left behind.
    expect(new Set(arrivals.map((a) => a.execution)).size).to.equal(50);
    expect(await server.db('concurrency_slots').where({ flow_id: flowId })).to.deep.equal([]);
  });

  it('admits the queued executions of a key in the order they started, and says why each waits', async () => {
    const flowId = await limitedFlow('{limit: 1, key: "{{ input.customer }}"}');
    const first = await start(flowId, 'x');
    await eventually(() => expect(arrivals).to.have.length(1), { timeout: 20_000, what: 'the first call' });
    const waiting: string[] = [];
    for (let i = 0; i < 4; i++) waiting.push((await start(flowId, 'x')).execution_id);
    // Another key is not held up by this one.
    const other = await start(flowId, 'y');
    await eventually(() => expect(arrivals.map((a) => a.execution)).to.include(other.execution_id), {
      timeout: 20_000,
      what: 'the other key to run',
    });
    const { data } = await alice.client.executions.getExecution({ id: waiting[2] });
    expect(data.status).to.equal('queued');
    expect(data.waiting_reason).to.deep.include({ kind: 'concurrency', node_id: null });
    expect(data.waiting_reason!.concurrency).to.deep.equal({
      key: 'x',
      limit: 1,
      held_by: [first.execution_id],
      position: 3,
    });
    expect(data.waiting_reason!.message).to.include('key "x"');
    const running = (await alice.client.executions.getExecution({ id: first.execution_id })).data;
    expect(running.waiting_reason ?? null).to.equal(null);
    release(arrivals.find((a) => a.execution === other.execution_id)!);
    for (let i = 0; i < waiting.length + 1; i++) {
      await eventually(() => expect(held.filter((h) => h.key === 'x')).to.have.length(1), {
        timeout: 20_000,
        what: `call ${i + 1} of key x`,
      });
      release(held.find((h) => h.key === 'x')!);
    }
    expect(arrivals.filter((a) => a.key === 'x').map((a) => a.execution)).to.deep.equal([
      first.execution_id,
      ...waiting,
    ]);
    for (const id of waiting) expect((await waitForExecution(alice, id)).status).to.equal('completed');
    expect(maxInFlight.get('x')).to.equal(1);
  });

  it('a cancelled holder frees its slot; a cancelled queued execution leaves the line', async () => {
    const flowId = await limitedFlow('{limit: 1}');
    const a = await start(flowId, 'k');
    const b = await start(flowId, 'k');
    const c = await start(flowId, 'k');
    await eventually(() => expect(arrivals).to.have.length(1), { timeout: 20_000, what: 'the first call' });
    const whyB = (await alice.client.executions.getExecution({ id: b.execution_id })).data.waiting_reason!;
    expect(whyB.concurrency).to.deep.include({ key: '', position: 1, held_by: [a.execution_id] });
    await alice.client.executions.cancelExecution({ id: b.execution_id });
    await alice.client.executions.cancelExecution({ id: a.execution_id });
    await eventually(() => expect(arrivals.map((x) => x.execution)).to.include(c.execution_id), {
      timeout: 20_000,
      what: 'c to be admitted',
    });
    expect(arrivals.map((x) => x.execution)).not.to.include(b.execution_id);
    release(arrivals.find((x) => x.execution === c.execution_id)!);
    expect((await waitForExecution(alice, c.execution_id)).status).to.equal('completed');
    held.splice(0).forEach((h) => h.res.end());
  });

  it('on_limit: skip ends the new execution at once (cancelled, saying why)', async () => {
    const flowId = await limitedFlow('{limit: 1, on_limit: skip}');
    const a = await start(flowId, 'k');
    const b = await start(flowId, 'k');
    expect(b.status).to.equal('cancelled');
    const skipped = await waitForExecution(alice, b.execution_id);
    expect(skipped.error).to.match(/^Skipped: the concurrency limit of 1 for the flow is reached/);
    expect(skipped.error).to.include(a.execution_id);
    await eventually(() => expect(arrivals).to.have.length(1), { timeout: 20_000, what: 'the first call' });
    release(arrivals[0]);
    expect((await waitForExecution(alice, a.execution_id)).status).to.equal('completed');
  });

  it('on_limit: cancel_oldest cancels the oldest holder and runs the new one', async () => {
    const flowId = await limitedFlow('{limit: 1, key: "{{ input.customer }}", on_limit: cancel_oldest}');
    const a = await start(flowId, 'k');
    await eventually(() => expect(arrivals).to.have.length(1), { timeout: 20_000, what: 'the first call' });
    const b = await start(flowId, 'k');
    const cancelled = await waitForExecution(alice, a.execution_id);
    expect(cancelled.status).to.equal('cancelled');
    expect(cancelled.error).to.include(`Cancelled for the newer execution ${b.execution_id}`);
    await eventually(() => expect(arrivals.map((x) => x.execution)).to.include(b.execution_id), {
      timeout: 20_000,
      what: 'the newer execution to run',
    });
    release(arrivals.find((x) => x.execution === b.execution_id)!);
    expect((await waitForExecution(alice, b.execution_id)).status).to.equal('completed');
    held.splice(0).forEach((h) => h.res.end());
  });

  it('a flow-level approval comes first: the slot is taken when the execution is approved', async () => {
    const flowId = await makeFlow(
      alice,
      `approval: {required: true}
concurrency: {limit: 1}
nodes:
  start:
    type: http.request
    params: {url: "${target.url}/hold", method: POST, body: {key: "ap", execution: "{{ execution.id }}"}}
`,
    );
    const a = await start(flowId, 'ap');
    const b = await start(flowId, 'ap');
    const waitingB = (await alice.client.executions.getExecution({ id: b.execution_id })).data;
    expect(waitingB.waiting_reason).to.deep.include({ kind: 'approval', node_id: null, approvers: [] });
    await alice.client.hitl.approveExecution({ id: a.execution_id, decision: {} });
    await alice.client.hitl.approveExecution({ id: b.execution_id, decision: {} });
    await eventually(() => expect(arrivals).to.have.length(1), { timeout: 20_000, what: 'the first call' });
    const queuedB = (await alice.client.executions.getExecution({ id: b.execution_id })).data;
    expect(queuedB.status).to.equal('queued');
    expect(queuedB.waiting_reason!.concurrency).to.deep.include({ held_by: [a.execution_id], position: 1 });
    release(arrivals[0]);
    await eventually(() => expect(arrivals).to.have.length(2), { timeout: 20_000, what: 'the second call' });
    release(arrivals[1]);
    expect((await waitForExecution(alice, b.execution_id)).status).to.equal('completed');
  });

  it('refuses a bad concurrency block at save, with its path', async () => {
    const err = await expectError(
      alice.client.flows.createFlow({
        flowCreate: {
          name: 'bad-limit',
          definition: 'concurrency: {limit: 0, on_limit: drop}\nnodes:\n  start: {type: log, params: {message: hi}}\n',
        },
      }),
      422,
      'validation_error',
    );
    expect(JSON.stringify(err.details)).to.include('concurrency');
    const badKey = await expectError(
      alice.client.flows.createFlow({
        flowCreate: {
          name: 'bad-key',
          definition:
            'concurrency: {limit: 1, key: "{{ input.( }}"}\nnodes:\n  start: {type: log, params: {message: hi}}\n',
        },
      }),
      422,
      'validation_error',
    );
    expect(JSON.stringify(badKey.details)).to.include('concurrency.key');
  });

  it('an admitted execution waiting for a worker says so; finished ones have no reason', async () => {
    const flowId = await makeFlow(alice, 'nodes:\n  start: {type: log, params: {message: hi}}\n');
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const done = await waitForExecution(alice, data.execution_id);
    const { data: read } = await alice.client.executions.getExecution({ id: done.id });
    expect(read.waiting_reason).to.equal(null);
  });
});
