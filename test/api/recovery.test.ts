import { expect } from 'chai';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { json, startTarget, type Target } from '../support/target';
import { record, wsUrl } from '../support/ws';

describe('recovery: retrying and rerunning failed or cancelled executions', () => {
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

  async function allSteps(owner: TestAccount, id: string) {
    return (await owner.client.executions.getExecutionSteps({ id, limit: 100 })).data.steps;
  }

  async function allEvents(owner: TestAccount, id: string) {
    return (await owner.client.executions.getExecutionEvents({ id, limit: 1000 })).data.events;
  }

  /** prepare (transform) → call (http.request to `path`) → finish (reads both). */
  const threeNodes = (path: string) => `nodes:
  prepare:
    type: transform
    params: {expression: "{'n': input.n}"}
    next: call
  call:
    type: http.request
    params: {url: "${target.url}${path}"}
    next: finish
  finish:
    type: transform
    params: {expression: "{'n': nodes.prepare.output.n, 'got': nodes.call.output.body.ok}"}
`;

  it('retries from the failed node after fixing the flow: same execution, its state kept, attempts and event seqs go on', async () => {
    target.route('/broken-1', json(500, { problem: 'down' }));
    target.route('/fixed-1', json(200, { ok: 'yes' }));
    const flowId = await makeFlow(alice, threeNodes('/broken-1'));
    const failed = await runToEnd(alice, flowId, { n: 7 });
    expect(failed).to.include({ status: 'failed', current_node: 'call', retries: 0 });
    const eventsBefore = await allEvents(alice, failed.id);

    await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: threeNodes('/fixed-1') } });
    const res = await alice.client.executions.retryExecution({
      id: failed.id,
      retryExecutionRequest: { use_current_version: true },
    });
    expect(res.status).to.equal(202);
    expect(res.headers.location).to.equal(`/api/v1/executions/${failed.id}`);
    expect(res.data).to.include({ id: failed.id, flow_version: 2, retries: 1, error: null, completed_at: null });
    expect(['running', 'completed']).to.include(res.data.status);

    const done = await waitForExecution(alice, failed.id);
    expect(done).to.include({ status: 'completed', flow_version: 2, retries: 1 });
    expect(done.result).to.deep.equal({ n: 7, got: 'yes' });

    const steps = await allSteps(alice, failed.id);
    expect(steps.map((s) => [s.node_id, s.attempt, s.status])).to.deep.equal([
      ['prepare', 1, 'completed'],
      ['call', 1, 'failed'],
      ['call', 2, 'completed'],
      ['finish', 1, 'completed'],
    ]);
    const events = await allEvents(alice, failed.id);
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => i + 1));
    expect(events.slice(0, eventsBefore.length)).to.deep.equal(eventsBefore);
    const resumed = events.slice(eventsBefore.length);
    expect(resumed[0]).to.deep.include({ type: 'log', node_id: 'call' });
    expect((resumed[0] as { message: string }).message).to.match(
      /^Retried by .* from "call" \(attempt 2\) on version 2$/,
    );
    expect(resumed[1]).to.deep.include({ type: 'execution_update', status: 'running', node_id: 'call' });
    expect(resumed.map((e) => e.type)).to.include('node_started');
    expect(resumed[resumed.length - 1].type).to.equal('execution_completed');
  });

  it('retries on the pinned version with a patched input, and again when it fails again (attempt numbers go on)', async () => {
    target.route('/items/1', json(404, { problem: 'no such item' }));
    target.route('/items/2', json(200, { ok: 'item 2' }));
    const flowId = await makeFlow(
      alice,
      `inputs:
  type: object
  required: [id]
  properties: {id: {type: integer}}
nodes:
  call:
    type: http.request
    params: {url: "${target.url}/items/{{ input.id }}"}
`,
    );
    const failed = await runToEnd(alice, flowId, { id: 1 });
    expect(failed.status).to.equal('failed');

    const again = await alice.client.executions.retryExecution({ id: failed.id });
    expect(again.data.input).to.deep.equal({ id: 1 });
    expect((await waitForExecution(alice, failed.id)).status).to.equal('failed');

    const bad = await expectError(
      alice.client.executions.retryExecution({ id: failed.id, retryExecutionRequest: { input: { id: 'two' } } }),
      422,
      'validation_error',
    );
    expect(bad.message).to.match(/inputs schema/);

    await alice.client.executions.retryExecution({ id: failed.id, retryExecutionRequest: { input: { id: 2 } } });
    const done = await waitForExecution(alice, failed.id);
    expect(done).to.include({ status: 'completed', retries: 2 });
    expect(done.input).to.deep.equal({ id: 2 });
    const steps = await allSteps(alice, failed.id);
    expect(steps.map((s) => [s.attempt, s.status])).to.deep.equal([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'completed'],
    ]);
  });

  it('works after a fail node: a fixed version continues there; one without that node is refused with 422', async () => {
    const v1 = `nodes:
  check:
    type: condition
    params: {expression: "input.ok = true"}
    next: {'true': done, 'false': reject}
  reject:
    type: fail
    params: {message: "not ok"}
  done:
    type: transform
    params: {expression: "'done'"}
`;
    const flowId = await makeFlow(alice, v1);
    const failed = await runToEnd(alice, flowId, { ok: false });
    expect(failed).to.include({ status: 'failed', error: 'not ok', current_node: 'reject' });

    // A version without the node it stopped at.
    await alice.client.flows.updateFlow({
      id: flowId,
      flowUpdate: {
        definition: `nodes:
  check:
    type: condition
    params: {expression: "input.ok = true"}
    next: {'true': done, 'false': done}
  done:
    type: transform
    params: {expression: "'done'"}
`,
      },
    });
    const gone = await expectError(
      alice.client.executions.retryExecution({ id: failed.id, retryExecutionRequest: { use_current_version: true } }),
      422,
      'validation_error',
    );
    expect(gone.message).to.match(/"reject"/);
    expect((await alice.client.executions.getExecution({ id: failed.id })).data).to.include({
      status: 'failed',
      retries: 0,
    });

    // The fix: the node at `reject` now records the refusal instead of failing.
    await alice.client.flows.updateFlow({
      id: flowId,
      flowUpdate: {
        definition: v1.replace(
          'type: fail\n    params: {message: "not ok"}',
          `type: transform\n    params: {expression: "'refused: ' & $string(nodes.check.output.value)"}`,
        ),
      },
    });
    await alice.client.executions.retryExecution({
      id: failed.id,
      retryExecutionRequest: { use_current_version: true },
    });
    const done = await waitForExecution(alice, failed.id);
    expect(done).to.include({ status: 'completed', flow_version: 3 });
    const steps = await allSteps(alice, failed.id);
    expect(steps.map((s) => [s.node_id, s.node_type, s.attempt, s.status])).to.deep.equal([
      ['check', 'condition', 1, 'completed'],
      ['reject', 'fail', 1, 'failed'],
      ['reject', 'transform', 2, 'completed'],
    ]);
  });

  it('retries a cancelled execution at the node it was at; 409 for one that is not failed or cancelled', async () => {
    const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: delay\n    params: {ms: 60000}\n');
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await eventually(
      async () => {
        const ex = (await alice.client.executions.getExecution({ id: data.execution_id })).data;
        if (ex.current_node !== 'start' || ex.progress.waiting_until === null) throw new Error('not sleeping yet');
      },
      { timeout: 20_000, what: 'the delay to sleep' },
    );
    await expectError(alice.client.executions.retryExecution({ id: data.execution_id }), 409, 'conflict');
    await alice.client.executions.cancelExecution({ id: data.execution_id });

    const res = await alice.client.executions.retryExecution({ id: data.execution_id });
    expect(res.data).to.include({ status: 'running', current_node: 'start', retries: 1 });
    await eventually(
      async () => {
        const ex = (await alice.client.executions.getExecution({ id: data.execution_id })).data;
        if (ex.progress.waiting_until === null) throw new Error('not sleeping again yet');
      },
      { timeout: 20_000, what: 'the retried delay to sleep again' },
    );
    await alice.client.executions.cancelExecution({ id: data.execution_id });

    const completed = await runToEnd(
      alice,
      await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n'),
    );
    const refused = await expectError(alice.client.executions.retryExecution({ id: completed.id }), 409, 'conflict');
    expect(refused.message).to.match(/completed/);
  });

  it('only callers who may start the flow retry or rerun: 403 with a share to read, 404 without one, 409 once the flow is deleted', async () => {
    target.route('/broken-2', json(500, {}));
    const flowId = await makeFlow(
      alice,
      `nodes:\n  call:\n    type: http.request\n    params: {url: "${target.url}/broken-2"}\n`,
    );
    const failed = await runToEnd(alice, flowId);
    await alice.client.sharing.shareExecution({ id: failed.id, shareCreate: { account_id: bob.account.id } });
    await expectError(bob.client.executions.retryExecution({ id: failed.id }), 403, 'forbidden');
    await expectError(bob.client.executions.rerunExecution({ id: failed.id }), 403, 'forbidden');
    await expectError(carol.client.executions.retryExecution({ id: failed.id }), 404, 'not_found');
    await expectError(carol.client.executions.rerunExecution({ id: failed.id }), 404, 'not_found');
    expect((await alice.client.executions.getExecution({ id: failed.id })).data).to.include({ retries: 0 });

    // A deleted flow starts nothing again, not even its own executions.
    await alice.client.flows.deleteFlow({ id: flowId });
    const deleted = await expectError(alice.client.executions.retryExecution({ id: failed.id }), 409, 'conflict');
    expect(deleted.message).to.match(/deleted/);
    await expectError(alice.client.executions.rerunExecution({ id: failed.id }), 409, 'conflict');
  });

  it('honours an Idempotency-Key: the same body replays the first retry, another body is 409', async () => {
    target.route('/broken-3', json(500, {}));
    const flowId = await makeFlow(
      alice,
      `nodes:\n  call:\n    type: http.request\n    params: {url: "${target.url}/broken-3"}\n`,
    );
    const failed = await runToEnd(alice, flowId);
    const first = await alice.client.executions.retryExecution({ id: failed.id, idempotencyKey: 'retry-key-1' });
    await waitForExecution(alice, failed.id);
    const replay = await alice.client.executions.retryExecution({ id: failed.id, idempotencyKey: 'retry-key-1' });
    expect(replay.status).to.equal(202);
    expect(replay.data).to.include({ id: first.data.id, retries: 1 });
    await expectError(
      alice.client.executions.retryExecution({
        id: failed.id,
        idempotencyKey: 'retry-key-1',
        retryExecutionRequest: { input: { other: true } },
      }),
      409,
      'conflict',
    );

    const rerun = await alice.client.executions.rerunExecution({ id: failed.id, idempotencyKey: 'rerun-key-1' });
    const rerunAgain = await alice.client.executions.rerunExecution({ id: failed.id, idempotencyKey: 'rerun-key-1' });
    expect(rerunAgain.data.id).to.equal(rerun.data.id);
    const reruns = (await alice.client.executions.listExecutions({ rerunOf: failed.id })).data;
    expect(reruns.executions.map((e) => e.id)).to.deep.equal([rerun.data.id]);
  });

  it('WebSocket followers see a retried execution resume, and a replay from seq 0 reads on past its first end', async () => {
    target.route('/broken-4', json(500, {}));
    target.route('/fixed-4', json(200, { ok: 'ws' }));
    const flowId = await makeFlow(alice, threeNodes('/broken-4'));
    const failed = await runToEnd(alice, flowId, { n: 1 });
    const lastSeq = (await allEvents(alice, failed.id)).at(-1)!.seq;
    const follower = record(wsUrl(server.url, `/ws/executions/${failed.id}?since=${lastSeq}`), {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(await follower.opened).to.equal(true);

    await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: threeNodes('/fixed-4') } });
    await alice.client.executions.retryExecution({
      id: failed.id,
      retryExecutionRequest: { use_current_version: true },
    });
    expect(await follower.done).to.deep.equal({ code: 1000 });
    expect(follower.messages[0]).to.include({ seq: lastSeq + 1, type: 'log' });
    expect(follower.messages.map((m) => m.seq)).to.deep.equal(follower.messages.map((_, i) => lastSeq + 1 + i));
    expect(follower.messages.at(-1)).to.include({ type: 'execution_completed' });

    const replay = record(wsUrl(server.url, `/ws/executions/${failed.id}?since=0`), {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(await replay.done).to.deep.equal({ code: 1000 });
    const types = replay.messages.map((m) => m.type);
    expect(types).to.include('execution_failed');
    expect(types.at(-1)).to.equal('execution_completed');
    expect(replay.messages.map((m) => m.seq)).to.deep.equal(replay.messages.map((_, i) => i + 1));
  });

  it("retries through 003's runs view: POST /runs/{run_id}/retry answers 202 with the RunRef", async () => {
    target.route('/broken-5', json(500, {}));
    target.route('/fixed-5', json(200, { ok: 'run' }));
    const flowId = await makeFlow(alice, threeNodes('/broken-5'));
    const started = await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, input: { n: 3 } } });
    const failed = await waitForExecution(alice, started.data.id);
    expect(failed.status).to.equal('failed');
    await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: threeNodes('/fixed-5') } });
    const res = await alice.client.runs.retryRun({
      runId: failed.id,
      retryExecutionRequest: { use_current_version: true },
    });
    expect(res.status).to.equal(202);
    expect(res.data).to.include({ id: failed.id, flow_id: flowId });
    expect(res.headers.location).to.equal(`/api/v1/runs/${failed.id}`);
    await waitForExecution(alice, failed.id);
    const run = (await alice.client.runs.getRun({ runId: failed.id })).data;
    expect(run).to.include({ status: 'completed', flow_version: 2 });
    expect(run.outputs).to.deep.equal({ n: 3, got: 'run' });
    await expectError(alice.client.runs.retryRun({ runId: failed.id }), 409, 'conflict');
  });

  describe('rerun', () => {
    /** a → b (counted) → c (the one that fails until fixed) */
    const chain = (cPath: string, bExpression = "{'b': nodes.a.output.a + 1}") => `nodes:
  a:
    type: transform
    params: {expression: "{'a': input.n}"}
    next: b
  b:
    type: http.request
    params: {url: "${target.url}/count"}
    next: b2
  b2:
    type: transform
    params: {expression: "${bExpression}"}
    next: c
  c:
    type: http.request
    params: {url: "${target.url}${cPath}"}
    next: d
  d:
    type: transform
    params: {expression: "{'sum': nodes.b2.output.b, 'c': nodes.c.output.body.ok}"}
`;
    let counted = 0;
    before(() => {
      target.route('/count', (_req, _body, res) => {
        counted++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: counted }));
      });
      target.route('/c-broken', json(500, {}));
      target.route('/c-fixed', json(200, { ok: 'c' }));
    });

    it('starts a new execution with the same input, linked both ways (rerun_of, listExecutions?rerun_of=)', async () => {
      const flowId = await makeFlow(alice, chain('/c-fixed'));
      const original = await runToEnd(alice, flowId, { n: 1 });
      expect(original).to.include({ status: 'completed', rerun_of: null });
      const res = await alice.client.executions.rerunExecution({ id: original.id });
      expect(res.status).to.equal(202);
      expect(res.data).to.include({ rerun_of: original.id, flow_id: flowId, flow_version: 1 });
      expect(res.data.id).to.not.equal(original.id);
      expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.id}`);
      expect(res.data.input).to.deep.equal({ n: 1 });
      const done = await waitForExecution(alice, res.data.id);
      expect(done.result).to.deep.equal({ sum: 2, c: 'c' });

      const withInput = await alice.client.executions.rerunExecution({
        id: original.id,
        rerunExecutionRequest: { input: { n: 10 } },
      });
      expect((await waitForExecution(alice, withInput.data.id)).result).to.deep.equal({ sum: 11, c: 'c' });
      const list = (await alice.client.executions.listExecutions({ rerunOf: original.id })).data;
      expect(list.executions.map((e) => e.id)).to.deep.equal([withInput.data.id, res.data.id]);
      expect(list.executions.every((e) => e.rerun_of === original.id)).to.equal(true);
    });

    it('from_node reuses the outputs of the nodes before it (copied as completed steps) and runs the rest', async () => {
      const flowId = await makeFlow(alice, chain('/c-broken'));
      const original = await runToEnd(alice, flowId, { n: 5 });
      expect(original).to.include({ status: 'failed', current_node: 'c' });
      const countedBefore = counted;

      await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: chain('/c-fixed') } });
      const res = await alice.client.executions.rerunExecution({
        id: original.id,
        rerunExecutionRequest: { from_node: 'c', use_current_version: true },
      });
      expect(res.data).to.include({ rerun_of: original.id, flow_version: 2 });
      const done = await waitForExecution(alice, res.data.id);
      expect(done).to.include({ status: 'completed' });
      expect(done.result).to.deep.equal({ sum: 6, c: 'c' });
      expect(counted, 'b was not called again').to.equal(countedBefore);
      const steps = await allSteps(alice, res.data.id);
      expect(steps.map((s) => [s.node_id, s.status])).to.deep.equal([
        ['a', 'completed'],
        ['b', 'completed'],
        ['b2', 'completed'],
        ['c', 'completed'],
        ['d', 'completed'],
      ]);
      const logs = (await alice.client.executions.getExecutionLogs({ id: res.data.id, limit: 100 })).data.logs;
      expect(logs.map((l) => l.message)).to.include(
        `Rerun of ${original.id} from "c", reusing the outputs of "a", "b", "b2"`,
      );
    });

    it('across versions, a change to what it reuses or reads answers 409 saying what changed', async () => {
      const flowId = await makeFlow(alice, chain('/c-broken'));
      const original = await runToEnd(alice, flowId, { n: 2 });
      await alice.client.flows.updateFlow({
        id: flowId,
        flowUpdate: { definition: chain('/c-fixed', "{'b': nodes.a.output.a * 100}") },
      });
      const changed = await expectError(
        alice.client.executions.rerunExecution({
          id: original.id,
          rerunExecutionRequest: { from_node: 'c', use_current_version: true },
        }),
        409,
        'conflict',
      );
      expect(changed.message).to.match(/node "b2", whose output is reused, changed its params/);
      expect(changed.details?.changes).to.be.an('array').with.length(1);

      await alice.client.flows.updateFlow({
        id: flowId,
        flowUpdate: {
          definition: chain('/c-fixed').replace(
            "{'sum': nodes.b2.output.b, 'c': nodes.c.output.body.ok}",
            "{'sum': nodes.b2.output.b, 'e': nodes.e.output}",
          ),
        },
      });
      const reads = await expectError(
        alice.client.executions.rerunExecution({
          id: original.id,
          rerunExecutionRequest: { from_node: 'c', use_current_version: true },
        }),
        409,
        'conflict',
      );
      expect(reads.message).to.match(/node "d" reads nodes\.e/);
      // The pinned version still fits: the rerun runs there.
      const pinned = await alice.client.executions.rerunExecution({
        id: original.id,
        rerunExecutionRequest: { from_node: 'c' },
      });
      expect(pinned.data.flow_version).to.equal(1);
      expect((await waitForExecution(alice, pinned.data.id)).status).to.equal('failed');
    });

    it('refuses a from_node that did not run in the original or is not in the version (422)', async () => {
      const flowId = await makeFlow(alice, chain('/c-fixed'));
      const original = await runToEnd(alice, flowId, { n: 3 });
      const missing = await expectError(
        alice.client.executions.rerunExecution({ id: original.id, rerunExecutionRequest: { from_node: 'nope' } }),
        422,
        'validation_error',
      );
      expect(missing.message).to.match(/no node "nope"/);
      const failsEarly = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: fail\n    params: {message: stop}\n    next: after\n  after:\n    type: log\n    params: {message: hi}\n',
      );
      const early = await runToEnd(alice, failsEarly);
      const notRun = await expectError(
        alice.client.executions.rerunExecution({ id: early.id, rerunExecutionRequest: { from_node: 'after' } }),
        422,
        'validation_error',
      );
      expect(notRun.message).to.match(/did not run/);
      const none = (await alice.client.executions.listExecutions({ rerunOf: early.id })).data.executions;
      expect(none).to.deep.equal([]);
    });
  });
});
