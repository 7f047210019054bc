import { expect } from 'chai';
import { expectError } from '../support/client';
import { cloneTestDatabase } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { json, startTarget, type Target } from '../support/target';

describe('executions: running flows', () => {
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  let bob: TestAccount;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  it('runs a transform flow: 202 with Location, then completed with result, steps, logs and gapless events', async () => {
    const flowId = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: transform\n    params: {expression: "{\'doubled\': input.n * 2}"}\n',
    );
    const res = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 21 } } });
    expect(res.status).to.equal(202);
    // A one-node transform start runs its node before it commits and commits both together.
    expect(res.data).to.include({ flow_id: flowId, status: 'completed' });
    expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.execution_id}`);

    const ex = await waitForExecution(alice, res.data.execution_id);
    expect(ex).to.include({ status: 'completed', flow_version: 1, current_node: 'start', error: null });
    expect(ex.result).to.deep.equal({ doubled: 42 });
    expect(ex.input).to.deep.equal({ n: 21 });
    expect(ex.duration).to.be.a('number').and.at.least(0);

    const steps = (await alice.client.executions.getExecutionSteps({ id: ex.id })).data;
    expect(steps.total).to.equal(1);
    expect(steps.steps[0]).to.include({ node_id: 'start', node_type: 'transform', attempt: 1, status: 'completed' });
    expect(steps.steps[0].output).to.deep.equal({ doubled: 42 });

    const logs = (await alice.client.executions.getExecutionLogs({ id: ex.id })).data;
    expect(logs.logs.map((l) => l.message)).to.deep.equal(['Execution started', 'Execution completed']);

    const events = (await alice.client.executions.getExecutionEvents({ id: ex.id })).data.events;
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).to.deep.equal([
      'execution_update',
      'log',
      'execution_update',
      'node_started',
      'node_completed',
      'log',
      'execution_completed',
    ]);
    expect(events[3]).to.deep.include({ node_id: 'start', node_type: 'transform', attempt: 1 });
    expect(ex.progress).to.deep.include({
      steps_completed: 1,
      nodes_total: 1,
      current_node: 'start',
      waiting_until: null,
    });
    expect(Date.parse(ex.progress.node_started_at!)).to.be.at.most(Date.parse(ex.completed_at!));
    const last = events[events.length - 1] as { status: string; result: unknown };
    expect(last).to.deep.include({ status: 'completed', result: { doubled: 42 } });
    const tail = (await alice.client.executions.getExecutionEvents({ id: ex.id, since: 5 })).data;
    expect(tail.events.map((e) => e.seq)).to.deep.equal([6, 7]);
    expect(tail.next_seq).to.equal(7);
  });

  it('shows progress while an HTTP call is in flight: node_started, the current node and since when, step N of M', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    target.route('/slow', (_req, _body, res) => void held.then(() => res.writeHead(200).end('{}')));
    const flowId = await makeFlow(
      alice,
      `nodes:
  first:
    type: transform
    params: {expression: "1"}
    next: call
  call:
    type: http.request
    params: {url: "${target.url}/slow"}
    next: last
  last:
    type: transform
    params: {expression: "2"}
`,
    );
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    try {
      const during = await eventually(
        async () => {
          const ex = (await alice.client.executions.getExecution({ id })).data;
          if (ex.progress.current_node !== 'call') throw new Error(`at ${ex.progress.current_node}`);
          return ex;
        },
        { timeout: 30_000, what: 'the HTTP node to be shown running' },
      );
      expect(during.status).to.equal('running');
      expect(during.progress).to.deep.include({ steps_completed: 1, nodes_total: 3, waiting_until: null });
      expect(during.progress.node_started_at).to.be.a('string');
      const events = (await alice.client.executions.getExecutionEvents({ id })).data.events;
      const started = events.filter((e) => e.type === 'node_started');
      expect(started.map((e) => (e as { node_id: string }).node_id)).to.deep.equal(['first', 'call']);
      expect(events.some((e) => e.type === 'node_completed' && (e as { node_id: string }).node_id === 'call')).to.equal(
        false,
      );
      // The run's view (003) shows the same progress.
      expect((await alice.client.runs.getRun({ runId: id })).data.progress.current_node).to.equal('call');
    } finally {
      release();
    }
    const done = await waitForExecution(alice, id);
    expect(done.progress).to.deep.include({ steps_completed: 3, nodes_total: 3, current_node: 'last' });
    const types = (await alice.client.executions.getExecutionEvents({ id })).data.events.map((e) => e.type);
    // Each node announced once, before its result.
    expect(types.filter((t) => t === 'node_started')).to.have.length(3);
    expect(types.indexOf('node_started')).to.be.below(types.indexOf('node_completed'));
  });

  it('calls HTTP APIs with templates over input, node outputs and secrets, and masks secret values', async () => {
    target.route('/customers/42', json(200, { name: 'Ada', token_echo: 'tok-SECRET-1234' }));
    target.route('/hook', json(201, { ok: true }));
    await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'CRM_TOKEN', value: 'tok-SECRET-1234' },
    });
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: http.request
    params:
      url: "${target.url}/customers/{{ input.id }}"
      headers: {Authorization: "Bearer {{ secrets.CRM_TOKEN }}"}
    next: notify
  notify:
    type: webhook
    params: {url: "${target.url}/hook", payload: {name: "{{ nodes.start.output.body.name }}", n: "{{ input.id }}"}}
output: {name: "{{ nodes.start.output.body.name }}", echoed: "{{ nodes.start.output.body.token_echo }}", status: "{{ nodes.notify.output.status_code }}"}
`,
    );
    const ex = await runToEnd(alice, flowId, { id: 42 });
    expect(ex.status, ex.error ?? '').to.equal('completed');
    expect(ex.result).to.deep.equal({ name: 'Ada', echoed: '***', status: 201 });
    const crm = target.hits.find((h) => h.path === '/customers/42')!;
    expect(crm.headers.authorization).to.equal('Bearer tok-SECRET-1234');
    expect(JSON.parse(target.hits.find((h) => h.path === '/hook')!.body)).to.deep.equal({ name: 'Ada', n: 42 });

    const everything = JSON.stringify([
      (await alice.client.executions.getExecution({ id: ex.id })).data,
      (await alice.client.executions.getExecutionSteps({ id: ex.id })).data,
      (await alice.client.executions.getExecutionEvents({ id: ex.id })).data,
      (await alice.client.executions.getExecutionLogs({ id: ex.id, limit: 100 })).data,
    ]);
    expect(everything).not.to.contain('tok-SECRET-1234');
    expect(everything).to.contain('Bearer ***');
  });

  it('branches with condition and switch', async () => {
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: condition
    params: {expression: "input.amount > 100"}
    next: {"true": route, "false": small}
  route:
    type: switch
    params: {cases: [{name: huge, when: "input.amount > 1000"}, {name: big, when: "input.amount > 100"}]}
    next: {huge: huge, big: big}
  huge: {type: transform, params: {expression: "'huge'"}}
  big: {type: transform, params: {expression: "'big'"}}
  small: {type: transform, params: {expression: "'small'"}}
`,
    );
    expect((await runToEnd(alice, flowId, { amount: 5 })).result).to.equal('small');
    expect((await runToEnd(alice, flowId, { amount: 500 })).result).to.equal('big');
    expect((await runToEnd(alice, flowId, { amount: 5000 })).result).to.equal('huge');
  });

  it("fails with the node's message, or follows the error edge", async () => {
    const failing = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: fail\n    params: {message: "order {{ input.id }} is invalid"}\n',
    );
    const ex = await runToEnd(alice, failing, { id: 7 });
    expect(ex).to.include({ status: 'failed', error: 'order 7 is invalid' });
    const events = (await alice.client.executions.getExecutionEvents({ id: ex.id })).data.events;
    expect(events[events.length - 1]).to.deep.include({
      type: 'execution_failed',
      status: 'failed',
      error: 'order 7 is invalid',
      node_id: 'start',
      node_type: 'fail',
    });

    target.route('/broken', json(400, { problem: 'bad' }));
    const recovering = await makeFlow(
      alice,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/broken"}\n    retry: {max_attempts: 3, backoff_ms: 1}\n    next: {error: recover}\n  recover:\n    type: transform\n    params: {expression: "'recovered from ' & nodes.start.error"}\n`,
    );
    const rec = await runToEnd(alice, recovering);
    expect(rec).to.include({ status: 'completed', result: 'recovered from HTTP request failed with status 400' });
    // 4xx is not retried.
    expect(
      (await alice.client.executions.getExecutionSteps({ id: rec.id })).data.steps.map((s) => [s.node_id, s.status]),
    ).to.deep.equal([
      ['start', 'failed'],
      ['recover', 'completed'],
    ]);
  });

  it('retries 5xx with backoff, one step per attempt', async () => {
    let calls = 0;
    target.route('/flaky', (_req, _body, res) => {
      calls++;
      if (calls < 3) res.writeHead(503).end('busy');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const flowId = await makeFlow(
      alice,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/flaky"}\n    retry: {max_attempts: 5, backoff_ms: 10, backoff_multiplier: 2}\n`,
    );
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('completed');
    expect(calls).to.equal(3);
    const steps = (await alice.client.executions.getExecutionSteps({ id: ex.id })).data.steps;
    expect(steps.map((s) => [s.attempt, s.status])).to.deep.equal([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'completed'],
    ]);
    expect(steps[0].error).to.equal('HTTP request failed with status 503');
    const warnings = (
      await alice.client.executions.getExecutionLogs({ id: ex.id, level: 'warn' as never })
    ).data.logs.map((l) => l.message);
    expect(warnings).to.deep.equal([
      'Attempt 1 of 5 failed: HTTP request failed with status 503; retrying in 10 ms',
      'Attempt 2 of 5 failed: HTTP request failed with status 503; retrying in 20 ms',
    ]);
  });

  it('times out a slow call, retries it, and fails after the last attempt', async () => {
    target.route('/slow', (_req, _body, res) => {
      setTimeout(() => res.writeHead(200).end('late'), 2000).unref();
    });
    const flowId = await makeFlow(
      alice,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/slow", timeout_ms: 50}\n    retry: {max_attempts: 2, backoff_ms: 1}\n`,
    );
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('failed');
    expect(ex.error).to.match(/timed out after 50 ms/);
    expect((await alice.client.executions.getExecutionSteps({ id: ex.id })).data.total).to.equal(2);
  });

  it('cancels during a slow HTTP call: the call is aborted and no further node starts', async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    target.route('/hang', () => started());
    const abortedBefore = target.aborted;
    const flowId = await makeFlow(
      alice,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/hang", timeout_ms: 60000}\n    next: after\n  after:\n    type: log\n    params: {message: should not run}\n`,
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await inFlight;
    expect((await alice.client.executions.cancelExecution({ id: data.execution_id })).data).to.deep.equal({
      message: 'Execution cancelled successfully',
    });
    const ex = await waitForExecution(alice, data.execution_id);
    expect(ex.status).to.equal('cancelled');
    await eventually(() => target.aborted > abortedBefore, {
      timeout: 10_000,
      what: 'the target to see the call aborted',
    });
    const steps = (await alice.client.executions.getExecutionSteps({ id: ex.id })).data.steps;
    expect(steps.map((s) => [s.node_id, s.status])).to.deep.equal([['start', 'cancelled']]);
    await expectError(alice.client.executions.cancelExecution({ id: ex.id }), 409, 'conflict');
    // 003's cancel of a cancelled run answers as the first did (a retried cancel must not fail).
    const again = await alice.client.runs.cancelRun({ runId: ex.id });
    expect(again.status).to.equal(202);
    expect(again.data).to.include({ id: ex.id, status: 'cancelled' });
  });

  it('waits durably in a delay node: the step sleeps as a task due later, holding no worker', async () => {
    const flowId = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: delay\n    params: {ms: 3000}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.waited_ms >= 3000"}\n',
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const task = await eventually(
      async () => {
        const tasks = await server.db('tasks').where({ execution_id: data.execution_id });
        expect(tasks).to.have.length(1);
        expect(tasks[0]).to.include({ node_id: 'start', lease_owner: null });
        expect(tasks[0].state).to.include({ sleeping: true });
        return tasks[0];
      },
      { timeout: 20_000, what: 'the delay step to sleep as an unleased task' },
    );
    const logs = (await alice.client.executions.getExecutionLogs({ id: data.execution_id })).data.logs;
    expect(logs.map((l) => l.message)).to.include(`Waiting until ${task.run_at.toISOString()}`);
    const ex = await waitForExecution(alice, data.execution_id);
    expect(ex).to.include({ status: 'completed', result: true });
  });

  it("checks the input against the flow's inputs schema (422 naming the field)", async () => {
    const flowId = await makeFlow(
      alice,
      'inputs: {type: object, required: [amount], properties: {amount: {type: number}}}\nnodes:\n  start:\n    type: log\n    params: {message: ok}\n',
    );
    const missing = await expectError(
      alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } }),
      422,
      'validation_error',
    );
    expect(missing.details?.field).to.equal('input.amount');
    const wrong = await expectError(
      alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { amount: 'ten' } } }),
      422,
      'validation_error',
    );
    expect(wrong.details?.field).to.equal('input.amount');
    expect(
      (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { amount: 10 } } })).status,
    ).to.equal(202);
  });

  it('stops a runaway loop at the step limit', async () => {
    // A database of its own: the suite's worker (without the limit) must not take these steps.
    const database = await cloneTestDatabase('limited');
    const limited = await startTestServer({ FLOWRUNNER_MAX_STEPS: '20' }, database.url);
    try {
      const owner = await makeAccount(limited);
      const flowId = await makeFlow(
        owner,
        'nodes:\n  start:\n    type: condition\n    params: {expression: "true"}\n    next: {"true": start}\n',
      );
      const ex = await runToEnd(owner, flowId);
      expect(ex).to.include({ status: 'failed', error: 'the execution reached the limit of 20 steps' });
    } finally {
      await limited.close();
      await database.drop();
    }
  });

  it('pins the version it started with, and serves it with a weak ETag (304 on If-None-Match)', async () => {
    const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: transform\n    params: {expression: "1"}\n');
    const first = await runToEnd(alice, flowId);
    await alice.client.flows.updateFlow({
      id: flowId,
      flowUpdate: {
        definition: 'nodes:\n  start:\n    type: transform\n    params: {expression: "2"}\n',
      },
    });
    const second = await runToEnd(alice, flowId);
    expect([first.result, first.flow_version, second.result, second.flow_version]).to.deep.equal([1, 1, 2, 2]);

    const def = await alice.client.executions.getExecutionDefinition({ id: first.id });
    expect(def.data).to.include({ flow_id: flowId, flow_version: 1 });
    expect(def.data.definition).to.contain('"1"');
    expect(def.headers.etag).to.equal(`W/"${def.data.definition_hash}"`);
    const notModified = await alice.client.executions.getExecutionDefinition(
      { id: first.id, ifNoneMatch: def.headers.etag },
      {
        validateStatus: (s: number) => s === 304,
      },
    );
    expect(notModified.status).to.equal(304);
    const run = await alice.client.runs.getRunDefinition({ runId: first.id });
    expect(run.headers.etag).to.equal(def.headers.etag);
    expect(
      (
        await alice.client.runs.getRunDefinition(
          { runId: first.id, ifNoneMatch: def.headers.etag },
          {
            validateStatus: (s: number) => s === 304,
          },
        )
      ).status,
    ).to.equal(304);
    expect(
      (await alice.client.runs.getRunDefinition({ runId: second.id, ifNoneMatch: def.headers.etag })).status,
    ).to.equal(200);
  });

  it('filters the list by creation time: created_after is inclusive, created_before exclusive', async () => {
    const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: transform\n    params: {expression: "1"}\n');
    const first = await runToEnd(alice, flowId);
    const second = await runToEnd(alice, flowId);
    const at = Date.parse(first.created_at);
    const iso = (ms: number) => new Date(ms).toISOString();
    const ids = async (range: { createdAfter?: string; createdBefore?: string }) =>
      (await alice.client.executions.listExecutions({ flowId, limit: 100, ...range })).data.executions.map((e) => e.id);

    expect(await ids({ createdAfter: iso(at) })).to.include.members([first.id, second.id]);
    expect(await ids({ createdAfter: iso(at + 1) })).not.to.include(first.id);
    expect(await ids({ createdBefore: iso(at) })).to.deep.equal([]);
    expect(await ids({ createdAfter: iso(at), createdBefore: iso(at + 1) })).to.include(first.id);
    expect(await ids({ createdBefore: iso(Date.parse(second.created_at) + 1) })).to.include.members([
      first.id,
      second.id,
    ]);
    const page = (await alice.client.executions.listExecutions({ flowId, createdAfter: iso(at + 1) })).data;
    expect(page.total).to.equal(page.executions.length);
    await expectError(alice.client.executions.listExecutions({ createdAfter: 'yesterday' }), 400, 'invalid_request');
  });

  it("hides another account's executions and runs (404), changing nothing", async () => {
    const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: delay\n    params: {ms: 60000}\n');
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const id = data.execution_id;
    await expectError(bob.client.executions.runFlow({ id: flowId, runFlowRequest: {} }), 404, 'not_found');
    await expectError(bob.client.runs.startRun({ runStartRequest: { flow_id: flowId } }), 404, 'not_found');
    await expectError(bob.client.executions.getExecution({ id }), 404, 'not_found');
    await expectError(bob.client.executions.cancelExecution({ id }), 404, 'not_found');
    await expectError(bob.client.executions.getExecutionLogs({ id }), 404, 'not_found');
    await expectError(bob.client.executions.getExecutionSteps({ id }), 404, 'not_found');
    await expectError(bob.client.executions.getExecutionEvents({ id }), 404, 'not_found');
    await expectError(bob.client.executions.getExecutionDefinition({ id }), 404, 'not_found');
    await expectError(bob.client.runs.getRun({ runId: id }), 404, 'not_found');
    await expectError(bob.client.runs.getRunDefinition({ runId: id }), 404, 'not_found');
    await expectError(bob.client.runs.cancelRun({ runId: id }), 404, 'not_found');
    expect(
      (await bob.client.executions.listExecutions({ limit: 100 })).data.executions.map((e) => e.id),
    ).not.to.include(id);
    expect((await bob.client.runs.listRuns({ limit: 100 })).data.items.map((r) => r.id)).not.to.include(id);
    expect((await alice.client.executions.getExecution({ id })).data.status).not.to.equal('cancelled');
    const cancelled = await alice.client.runs.cancelRun({ runId: id });
    expect(cancelled.status).to.equal(202);
    expect(cancelled.data).to.include({ id, status: 'cancelled' });
  });
});
