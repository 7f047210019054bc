import { expect } from 'chai';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { json, startTarget, type Target } from '../support/target';

describe('retrying foreach items and iterations (issue 18)', () => {
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    carol = await makeAccount(server);
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  /**
   * A foreach over 5 items whose item 3 (index 2) hits a `fail` node; `fixed` turns that node
   * into the step that should have run. `sum` reads the foreach's results after it.
   */
  const flow = (policy: 'fail' | 'continue', fixed: boolean, concurrency = 1) => `nodes:
  start:
    type: foreach
    params: {items: [1, 2, 3, 4, 5], concurrency: ${concurrency}, on_item_error: ${policy}}
    next: {each: check, default: sum}
  check:
    type: condition
    params: {expression: "item = 3"}
    next: {'true': odd, 'false': good}
  odd: ${fixed ? '{type: transform, params: {expression: "item * 10"}}' : '{type: fail, params: {message: "item {{ item }} is bad"}}'}
  good: {type: transform, params: {expression: "item * 10"}}
  sum:
    type: transform
    params: {expression: "nodes.start.output"}
`;

  const children = async (parentId: string) =>
    (await server.db('executions').where({ parent_execution_id: parentId })) as {
      id: string;
      iteration: { index: number };
      retries: number;
    }[];

  const stepsOf = async (id: string) =>
    (await alice.client.executions.getExecutionSteps({ id, limit: 100 })).data.steps.map((s) => [
      s.node_id,
      s.attempt,
      s.status,
    ]);

  const seqs = async (id: string) =>
    (await alice.client.executions.getExecutionEvents({ id, limit: 1000 })).data.events.map((e) => e.seq);

  it('on_item_error fail: a retry of the parent on the fixed flow runs only the unfinished items, the failed one as the same iteration', async () => {
    const flowId = await makeFlow(alice, flow('fail', false));
    const failed = await runToEnd(alice, flowId);
    expect(failed).to.include({ status: 'failed', current_node: 'start' });
    const before = await children(failed.id);
    // concurrency 1: items 0 and 1 completed, item 2 failed, 3 and 4 never started.
    expect(before.map((c) => c.iteration.index).sort()).to.deep.equal([0, 1, 2]);
    const third = before.find((c) => c.iteration.index === 2)!;
    expect(failed.progress.foreach).to.deep.equal({
      node_id: 'start',
      done: 3,
      total: 5,
      failed: 1,
      failed_items: [{ index: 2, execution_id: third.id, status: 'failed', error: 'item 3 is bad' }],
    });
    const seen = (await alice.client.executions.getExecution({ id: third.id })).data;
    expect(seen).to.include({ parent_execution_id: failed.id, status: 'failed' });
    expect(seen.iteration).to.deep.equal({ node_id: 'start', index: 2 });
    const firstSteps = await stepsOf(before.find((c) => c.iteration.index === 0)!.id);

    await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: flow('fail', true) } });
    const res = await alice.client.executions.retryExecution({
      id: failed.id,
      retryExecutionRequest: { use_current_version: true },
    });
    expect(res.status).to.equal(202);
    expect(res.data).to.include({ id: failed.id, flow_version: 2, retries: 1 });

    const done = await waitForExecution(alice, failed.id);
    expect(done.status, done.error ?? '').to.equal('completed');
    expect(done.result).to.deep.equal({ results: [10, 20, 30, 40, 50], errors: [] });
    expect(done.progress.foreach).to.deep.equal({ node_id: 'start', done: 5, total: 5, failed: 0, failed_items: [] });

    // Five iterations in all: the completed ones untouched, the failed one went on, two new.
    const after = await children(failed.id);
    expect(after.map((c) => c.iteration.index).sort()).to.deep.equal([0, 1, 2, 3, 4]);
    for (const c of after) expect(c.retries, `item ${c.iteration.index}`).to.equal(c.iteration.index === 2 ? 1 : 0);
    expect(await stepsOf(before.find((c) => c.iteration.index === 0)!.id)).to.deep.equal(firstSteps);
    expect(await stepsOf(third.id)).to.deep.equal([
      ['check', 1, 'completed'],
      ['odd', 1, 'failed'],
      ['odd', 2, 'completed'],
    ]);
    expect((await alice.client.executions.getExecution({ id: third.id })).data).to.include({
      status: 'completed',
      flow_version: 2,
    });
    expect(await stepsOf(failed.id)).to.deep.equal([
      ['start', 1, 'failed'],
      ['start', 2, 'completed'],
      ['sum', 1, 'completed'],
    ]);
    const parentSeqs = await seqs(failed.id);
    expect(parentSeqs).to.deep.equal(parentSeqs.map((_, i) => i + 1));
    const childSeqs = await seqs(third.id);
    expect(childSeqs).to.deep.equal(childSeqs.map((_, i) => i + 1));
  });

  it('on_item_error continue: an iteration retried on its own reopens its completed parent, which replaces that result and goes on from the foreach', async () => {
    const flowId = await makeFlow(alice, flow('continue', false, 2));
    const first = await runToEnd(alice, flowId);
    expect(first.status).to.equal('completed');
    expect(first.result).to.deep.equal({
      results: [10, 20, null, 40, 50],
      errors: [{ index: 2, error: 'item 3 is bad' }],
    });
    const failedItem = first.progress.foreach!.failed_items![0];
    expect(failedItem).to.include({ index: 2, status: 'failed' });
    const iteration = failedItem.execution_id!;

    await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: flow('continue', true, 2) } });
    const res = await alice.client.executions.retryExecution({
      id: iteration,
      retryExecutionRequest: { use_current_version: true },
    });
    expect(res.status).to.equal(202);
    expect(res.data).to.include({ id: iteration, parent_execution_id: first.id, flow_version: 2, retries: 1 });

    const parent = await waitForExecution(alice, first.id);
    expect(parent).to.include({ status: 'completed', retries: 1, flow_version: 2 });
    expect(parent.result).to.deep.equal({ results: [10, 20, 30, 40, 50], errors: [] });
    expect(parent.progress.foreach).to.deep.include({ done: 5, failed: 0, failed_items: [] });
    expect(await stepsOf(first.id)).to.deep.equal([
      ['start', 1, 'completed'],
      ['sum', 1, 'completed'],
      ['start', 2, 'completed'],
      // A node reached again along an edge starts at attempt 1 (as in a loop).
      ['sum', 1, 'completed'],
    ]);
    // No new iteration: the same child went on; the others did not run again.
    const after = await children(first.id);
    expect(after).to.have.length(5);
    for (const c of after) expect(c.retries, `item ${c.iteration.index}`).to.equal(c.iteration.index === 2 ? 1 : 0);
    const events = (await alice.client.executions.getExecutionEvents({ id: first.id, limit: 1000 })).data.events;
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => i + 1));
    const retried = events.find((e) => e.type === 'log' && /^Retried by/.test((e as { message: string }).message));
    expect((retried as { message: string }).message).to.match(/from "start" \(attempt 2, item 2\) on version 2$/);
  });

  it('retries chosen items of a completed parent with items; refuses items that did not fail (409), beyond the list (422), and an iteration that did not fail (409)', async () => {
    const flowId = await makeFlow(alice, flow('continue', false, 5));
    const first = await runToEnd(alice, flowId);
    const ok = (await children(first.id)).find((c) => c.iteration.index === 0)!;
    const refused = await expectError(alice.client.executions.retryExecution({ id: ok.id }), 409, 'conflict');
    expect(refused.message).to.match(/completed/);
    const notFailed = await expectError(
      alice.client.executions.retryExecution({ id: first.id, retryExecutionRequest: { items: [0, 2] } }),
      409,
      'conflict',
    );
    expect(notFailed.message).to.match(/item 0 is completed/);
    await expectError(
      alice.client.executions.retryExecution({ id: first.id, retryExecutionRequest: { items: [7] } }),
      422,
      'validation_error',
    );
    await expectError(
      alice.client.executions.retryExecution({ id: first.id, retryExecutionRequest: { foreach_node: 'start' } }),
      422,
      'validation_error',
    );
    expect((await alice.client.executions.getExecution({ id: first.id })).data).to.include({
      status: 'completed',
      retries: 0,
    });

    // On the pinned version item 2 fails again: the parent completes again with the same error.
    const res = await alice.client.executions.retryExecution({
      id: first.id,
      retryExecutionRequest: { items: [2] },
    });
    expect(res.data).to.include({ id: first.id, retries: 1 });
    expect(['running', 'completed']).to.include(res.data.status);
    const again = await waitForExecution(alice, first.id);
    expect(again).to.include({ status: 'completed', retries: 1 });
    expect(again.result).to.deep.equal({
      results: [10, 20, null, 40, 50],
      errors: [{ index: 2, error: 'item 3 is bad' }],
    });
    const third = (await children(first.id)).find((c) => c.iteration.index === 2)!;
    expect(await stepsOf(third.id)).to.deep.equal([
      ['check', 1, 'completed'],
      ['odd', 1, 'failed'],
      ['odd', 2, 'failed'],
    ]);
    expect(await children(first.id)).to.have.length(5);
  });

  it('a share to read is not enough to retry an iteration or items (403); a stranger gets 404', async () => {
    const flowId = await makeFlow(alice, flow('continue', false, 5));
    const first = await runToEnd(alice, flowId);
    const iteration = first.progress.foreach!.failed_items![0].execution_id!;
    await alice.client.sharing.shareExecution({ id: first.id, shareCreate: { account_id: bob.account.id } });
    await alice.client.sharing.shareExecution({ id: iteration, shareCreate: { account_id: bob.account.id } });
    await expectError(bob.client.executions.retryExecution({ id: iteration }), 403, 'forbidden');
    await expectError(
      bob.client.executions.retryExecution({ id: first.id, retryExecutionRequest: { items: [2] } }),
      403,
      'forbidden',
    );
    await expectError(carol.client.executions.retryExecution({ id: iteration }), 404, 'not_found');
    await expectError(
      carol.client.executions.retryExecution({ id: first.id, retryExecutionRequest: { items: [2] } }),
      404,
      'not_found',
    );
    expect((await alice.client.executions.getExecution({ id: iteration })).data).to.include({
      status: 'failed',
      retries: 0,
    });
  });

  it('an iteration retried while its parent still runs the foreach (continue) waits for a free slot, then goes on as the same child', async () => {
    let release: (() => void) | undefined;
    target.route('/item/0', json(500, { problem: 'down' }));
    target.route('/item/1', (_req, _body, res) => {
      release = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"n":1}');
    });
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: foreach
    params: {items: [0, 1], concurrency: 1, on_item_error: continue}
    next: {each: call}
  call:
    type: http.request
    params: {url: "${target.url}/item/{{ item }}"}
    next: pick
  pick: {type: transform, params: {expression: "nodes.call.output.body.n"}}
`,
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    // Item 0 failed; item 1 holds the only slot.
    const running = await eventually(
      async () => {
        const ex = (await alice.client.executions.getExecution({ id: data.execution_id })).data;
        expect(release).to.be.a('function');
        expect(ex.progress.foreach?.failed_items).to.have.length(1);
        return ex;
      },
      { timeout: 30_000, what: 'item 0 failed and item 1 calling out' },
    );
    const iteration = running.progress.foreach!.failed_items![0].execution_id!;
    await expectError(
      alice.client.executions.retryExecution({ id: iteration, retryExecutionRequest: { use_current_version: true } }),
      409,
      'conflict',
    );
    target.route('/item/0', json(200, { n: 0 }));
    const res = await alice.client.executions.retryExecution({ id: iteration });
    expect(res.status).to.equal(202);
    expect(res.data.status).to.equal('failed'); // Its turn comes when item 1 frees the slot.
    expect((await alice.client.executions.getExecution({ id: data.execution_id })).data.progress.foreach).to.deep.equal(
      { node_id: 'start', done: 0, total: 2, failed: 0, failed_items: [] },
    );
    release!();
    const done = await waitForExecution(alice, data.execution_id);
    expect(done).to.include({ status: 'completed', retries: 0 });
    expect(done.result).to.deep.equal({ results: [0, 1], errors: [] });
    expect((await alice.client.executions.getExecution({ id: iteration })).data).to.include({
      status: 'completed',
      retries: 1,
    });
    expect(await stepsOf(iteration)).to.deep.equal([
      ['call', 1, 'failed'],
      ['call', 2, 'completed'],
      ['pick', 1, 'completed'],
    ]);
    expect(await children(data.execution_id)).to.have.length(2);
  });

  it('a parent cancelled mid-foreach is retried at its foreach: the cancelled iterations go on, the completed ones keep their results', async () => {
    const held: (() => void)[] = [];
    let holding = true;
    target.route('/slow', (_req, body, res) => {
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      const { i } = JSON.parse(body) as { i: number };
      if (holding && i >= 2) held.push(answer);
      else answer();
    });
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: foreach
    params: {items: [0, 1, 2, 3], concurrency: 2}
    next: {each: call}
  call:
    type: http.request
    params: {url: "${target.url}/slow", method: POST, body: {i: "{{ item }}"}}
    next: pick
  pick: {type: transform, params: {expression: "nodes.call.output.body.i * 2"}}
`,
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await eventually(() => expect(held).to.have.length(2), { timeout: 30_000, what: 'items 2 and 3 calling out' });
    await alice.client.executions.cancelExecution({ id: data.execution_id });
    const cancelled = await waitForExecution(alice, data.execution_id);
    expect(cancelled.status).to.equal('cancelled');
    holding = false;
    for (const release of held) release();

    await alice.client.executions.retryExecution({ id: data.execution_id });
    const done = await waitForExecution(alice, data.execution_id);
    expect(done.status, done.error ?? '').to.equal('completed');
    expect(done.result).to.deep.equal({ results: [0, 2, 4, 6], errors: [] });
    const after = await children(data.execution_id);
    expect(after).to.have.length(4);
    for (const c of after) expect(c.retries, `item ${c.iteration.index}`).to.equal(c.iteration.index >= 2 ? 1 : 0);
    const resumed = after.find((c) => c.iteration.index === 2)!;
    // A step cancelled while running has no start of its own: it is listed after the started ones.
    expect(await stepsOf(resumed.id)).to.have.deep.members([
      ['call', 1, 'cancelled'],
      ['call', 2, 'completed'],
      ['pick', 1, 'completed'],
    ]);
  });
});
