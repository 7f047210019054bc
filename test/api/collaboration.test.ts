import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const waiting = ['waiting'];

describe('human in the loop', () => {
  let server: TestServer;
  let admin: TestAccount;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    carol = await makeAccount(server);
  });
  after(() => server.close());

  describe('flow-level approval', () => {
    const flow = (extra: string) =>
      `approval: {required: true${extra}}\nnodes:\n  start:\n    type: transform\n    params: {expression: "'ran'"}\n`;

    it('waits before the first node; approve runs it, recorded as a step and an event with who decided', async () => {
      const flowId = await makeFlow(alice, flow(''));
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      const before = (await alice.client.executions.getExecution({ id: data.execution_id })).data;
      expect(before).to.include({ status: 'waiting', approval_status: 'pending' });
      expect(before.waiting_for).to.deep.include({ node_id: null, kind: 'approval' });
      const approved = (
        await alice.client.hitl.approveExecution({ id: data.execution_id, decision: { comment: 'ok' } })
      ).data;
      expect(approved).to.include({ approval_status: 'approved' });
      const done = await waitForExecution(alice, data.execution_id);
      expect(done).to.include({ status: 'completed', result: 'ran', approval_status: 'approved' });
      const steps = (await alice.client.executions.getExecutionSteps({ id: data.execution_id })).data.steps;
      expect(steps[0]).to.deep.include({
        node_id: '$approval',
        node_type: 'approval',
        status: 'completed',
        actor_id: alice.account.id,
      });
      const logs = (
        await alice.client.executions.getExecutionLogs({ id: data.execution_id, limit: 100 })
      ).data.logs.map((l) => l.message);
      expect(logs).to.include(`Approved by ${alice.account.id}: ok`);
      await expectError(alice.client.hitl.approveExecution({ id: data.execution_id, decision: {} }), 409, 'conflict');
    });

    it('reject cancels it; deciding twice is 409', async () => {
      const flowId = await makeFlow(alice, flow(''));
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await alice.client.hitl.rejectExecution({ id: data.execution_id, decision: { comment: 'no' } });
      const ex = (await alice.client.executions.getExecution({ id: data.execution_id })).data;
      expect(ex).to.include({ status: 'cancelled', approval_status: 'rejected' });
      await expectError(alice.client.hitl.rejectExecution({ id: data.execution_id, decision: {} }), 409, 'conflict');
      await expectError(alice.client.hitl.approveExecution({ id: data.execution_id, decision: {} }), 409, 'conflict');
    });

    it('only listed approvers may decide (403), and no_self_approval stops the starter', async () => {
      const flowId = await makeFlow(
        alice,
        flow(`, approvers: ["role:admin", "${bob.account.id}"], no_self_approval: true`),
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await expectError(alice.client.hitl.approveExecution({ id: data.execution_id, decision: {} }), 403, 'forbidden');
      await expectError(carol.client.hitl.approveExecution({ id: data.execution_id, decision: {} }), 404, 'not_found');
      await alice.client.sharing.shareExecution({
        id: data.execution_id,
        shareCreate: { account_id: carol.account.id },
      });
      await expectError(carol.client.hitl.approveExecution({ id: data.execution_id, decision: {} }), 403, 'forbidden');
      expect(
        (await admin.client.hitl.approveExecution({ id: data.execution_id, decision: {} })).data.approval_status,
      ).to.equal('approved');

      const second = (await admin.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data;
      await expectError(
        admin.client.hitl.approveExecution({ id: second.execution_id, decision: {} }),
        403,
        'forbidden',
      );
      // Bob is named by the flow: he may read what he is asked to decide, without a share.
      expect((await bob.client.executions.getExecution({ id: second.execution_id })).data.status).to.equal('waiting');
      expect(
        (await bob.client.hitl.approveExecution({ id: second.execution_id, decision: {} })).data.approval_status,
      ).to.equal('approved');
      // Once decided, it is no longer his to read.
      await expectError(bob.client.executions.getExecution({ id: second.execution_id }), 404, 'not_found');
    });
  });

  describe('approval node', () => {
    const def = (extra = '') => `nodes:
  start:
    type: transform
    params: {expression: "input.amount"}
    next: check
  check:
    type: approval
    params: {${extra}}
    next: {approved: pay, rejected: refuse, timeout: expire}
  pay: {type: transform, params: {expression: "'paid'"}}
  refuse: {type: transform, params: {expression: "'refused'"}}
  expire: {type: transform, params: {expression: "'expired'"}}
`;

    it('follows approved, rejected and timeout edges', async () => {
      const flowId = await makeFlow(alice, def());
      const a = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { amount: 5 } } })).data
        .execution_id;
      const r = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { amount: 5 } } })).data
        .execution_id;
      for (const id of [a, r]) {
        const w = await waitForExecution(alice, id, waiting);
        expect(w.waiting_for).to.deep.include({ node_id: 'check', kind: 'approval' });
        expect(w.approval_status).to.equal('pending');
      }
      await alice.client.hitl.approveExecution({ id: a, decision: {} });
      await alice.client.hitl.rejectExecution({ id: r, decision: {} });
      expect((await waitForExecution(alice, a)).result).to.equal('paid');
      expect((await waitForExecution(alice, r)).result).to.equal('refused');
      const steps = (await alice.client.executions.getExecutionSteps({ id: a })).data.steps;
      expect(steps.find((s) => s.node_id === 'check')).to.deep.include({
        status: 'completed',
        actor_id: alice.account.id,
      });

      const timed = await makeFlow(alice, def('timeout_ms: 200'));
      const t = (await alice.client.executions.runFlow({ id: timed, runFlowRequest: { input: { amount: 1 } } })).data
        .execution_id;
      expect((await waitForExecution(alice, t)).result).to.equal('expired');
    });

    it('cancels on a rejection when there is no rejected edge', async () => {
      const flowId = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: approval\n    next: {approved: done}\n  done:\n    type: log\n    params: {message: done}\n',
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await waitForExecution(alice, data.execution_id, waiting);
      await alice.client.hitl.rejectExecution({ id: data.execution_id, decision: { comment: 'too much' } });
      const ex = await waitForExecution(alice, data.execution_id);
      expect(ex).to.include({
        status: 'cancelled',
        error: `Rejected by ${alice.account.id}`,
        approval_status: 'rejected',
      });
    });
  });

  describe('input node, values and the graph', () => {
    const def = `nodes:
  start:
    type: set
    params: {values: {requested: "{{ input.amount }}"}}
    next: review
  review:
    type: input
    params:
      prompt: Check the amount
      outcomes: [{name: accept, label: Accept}, {name: decline}]
      values_schema: {type: object, required: [amount], properties: {amount: {type: number, maximum: 1000}}}
    next: {accept: book, decline: drop}
  book: {type: transform, params: {expression: "'booked ' & $string(nodes.review.output.values.amount)"}}
  drop: {type: transform, params: {expression: "'dropped'"}}
`;

    it('validates the outcome and values, stores them, and follows the outcome', async () => {
      const flowId = await makeFlow(alice, def);
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { amount: 7 } } });
      const w = await waitForExecution(alice, data.execution_id, waiting);
      expect(w.waiting_for).to.deep.include({ node_id: 'review', kind: 'input' });
      expect(w.waiting_for!.outcomes).to.deep.equal([{ name: 'accept', label: 'Accept' }, { name: 'decline' }]);
      expect((await alice.client.hitl.getExecutionValues({ id: data.execution_id })).data.values).to.deep.equal({
        requested: 7,
      });

      const graph = (await alice.client.hitl.getExecutionGraph({ id: data.execution_id })).data;
      expect(graph.nodes.map((n) => [n.id, n.status, n.attempts])).to.deep.equal([
        ['start', 'completed', 1],
        ['review', 'waiting', 0],
        ['book', 'pending', 0],
        ['drop', 'pending', 0],
      ]);
      expect(graph.edges.find((e) => e.from === 'start')).to.include({ to: 'review', outcome: 'default', taken: true });

      const bad = await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: {
            node_id: 'review',
            outcome: 'maybe',
            values: { amount: 1 },
          },
        }),
        422,
        'validation_error',
      );
      expect(bad.details?.field).to.equal('outcome');
      const missing = await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: { node_id: 'review', outcome: 'accept', values: {} },
        }),
        422,
        'validation_error',
      );
      expect(missing.details?.field).to.equal('values.amount');
      const big = await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: {
            node_id: 'review',
            outcome: 'accept',
            values: { amount: 5000 },
          },
        }),
        422,
        'validation_error',
      );
      expect(big.details?.field).to.equal('values.amount');
      await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: {
            node_id: 'book',
            outcome: 'accept',
            values: { amount: 1 },
          },
        }),
        409,
        'conflict',
      );

      expect(
        (
          await alice.client.hitl.setExecutionValues({
            id: data.execution_id,
            stateValues: { values: { note: 'checked' } },
          })
        ).data.values,
      ).to.deep.equal({ requested: 7, note: 'checked' });
      await alice.client.hitl.signalExecution({
        id: data.execution_id,
        signal: {
          node_id: 'review',
          outcome: 'accept',
          values: { amount: 9 },
        },
      });
      await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: {
            node_id: 'review',
            outcome: 'accept',
            values: { amount: 9 },
          },
        }),
        409,
        'conflict',
      );
      const done = await waitForExecution(alice, data.execution_id);
      expect(done.result).to.equal('booked 9');
      expect((await alice.client.hitl.getExecutionValues({ id: data.execution_id })).data.values).to.deep.equal({
        requested: 7,
        note: 'checked',
        amount: 9,
      });
      await expectError(
        alice.client.hitl.setExecutionValues({ id: data.execution_id, stateValues: { values: { late: true } } }),
        409,
        'conflict',
      );

      const after = (await alice.client.hitl.getExecutionGraph({ id: data.execution_id })).data;
      expect(after.nodes.map((n) => [n.id, n.status])).to.deep.equal([
        ['start', 'completed'],
        ['review', 'completed'],
        ['book', 'completed'],
        ['drop', 'skipped'],
      ]);
      expect(after.edges.filter((e) => e.taken).map((e) => `${e.from}>${e.to}`)).to.deep.equal([
        'start>review',
        'review>book',
      ]);
      const step = (await alice.client.executions.getExecutionSteps({ id: data.execution_id })).data.steps.find(
        (s) => s.node_id === 'review',
      )!;
      expect(step).to.deep.include({ actor_id: alice.account.id, status: 'completed' });
    });
  });

  describe('input timeout', () => {
    it('takes the timeout edge when nobody answers in time, and refuses a late answer', async () => {
      const flowId = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: go}], timeout_ms: 200}\n    next: {go: done, timeout: late}\n  done: {type: transform, params: {expression: "\'answered\'"}}\n  late: {type: transform, params: {expression: "\'too late\'"}}\n',
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      expect((await waitForExecution(alice, data.execution_id)).result).to.equal('too late');
      await expectError(
        alice.client.hitl.signalExecution({
          id: data.execution_id,
          signal: { node_id: 'start', outcome: 'go', values: {} },
        }),
        409,
        'conflict',
      );
    });
  });

  describe('sharing', () => {
    it('lets a shared account read, follow and answer, but not cancel, share or add listeners', async () => {
      const flowId = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: go}]}\n    next: {go: done}\n  done:\n    type: transform\n    params: {expression: "1"}\n',
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await waitForExecution(alice, data.execution_id, waiting);
      await expectError(bob.client.executions.getExecution({ id: data.execution_id }), 404, 'not_found');
      const share = await alice.client.sharing.shareExecution({
        id: data.execution_id,
        shareCreate: { account_id: bob.account.id },
      });
      expect(share.status).to.equal(201);
      expect(share.data).to.include({ account_id: bob.account.id, email: bob.account.email });
      await expectError(
        alice.client.sharing.shareExecution({ id: data.execution_id, shareCreate: { account_id: bob.account.id } }),
        409,
        'conflict',
      );
      await expectError(
        alice.client.sharing.shareExecution({ id: data.execution_id, shareCreate: { account_id: 'acct-nobody' } }),
        404,
        'not_found',
      );
      expect(
        (await alice.client.sharing.listExecutionShares({ id: data.execution_id })).data.shares.map(
          (s) => s.account_id,
        ),
      ).to.deep.equal([bob.account.id]);

      expect((await bob.client.executions.getExecution({ id: data.execution_id })).data.id).to.equal(data.execution_id);
      expect((await bob.client.executions.listExecutions({ limit: 100 })).data.executions.map((e) => e.id)).to.include(
        data.execution_id,
      );
      await expectError(bob.client.executions.cancelExecution({ id: data.execution_id }), 403, 'forbidden');
      await expectError(
        bob.client.sharing.shareExecution({ id: data.execution_id, shareCreate: { account_id: carol.account.id } }),
        403,
        'forbidden',
      );
      await expectError(
        bob.client.sharing.unshareExecution({ id: data.execution_id, accountId: bob.account.id }),
        403,
        'forbidden',
      );
      await expectError(
        bob.client.listeners.createExecutionListener({
          id: data.execution_id,
          listenerCreate: { url: 'http://127.0.0.1:1/x' },
        }),
        403,
        'forbidden',
      );
      await bob.client.hitl.signalExecution({
        id: data.execution_id,
        signal: { node_id: 'start', outcome: 'go', values: {} },
      });
      expect((await waitForExecution(alice, data.execution_id)).status).to.equal('completed');

      await alice.client.sharing.unshareExecution({ id: data.execution_id, accountId: bob.account.id });
      await expectError(bob.client.executions.getExecution({ id: data.execution_id }), 404, 'not_found');
      await expectError(
        alice.client.sharing.unshareExecution({ id: data.execution_id, accountId: bob.account.id }),
        404,
        'not_found',
      );
    });
  });

  describe('packages', () => {
    const def =
      'nodes:\n  start:\n    type: transform\n    params: {expression: "input.n * 2"}\n    next: ask\n  ask:\n    type: input\n    params: {outcomes: [{name: ok}]}\n    next: {ok: finish}\n  finish:\n    type: transform\n    params: {expression: "nodes.start.output + nodes.ask.output.values.extra"}\n';

    it('round-trips: export a waiting run, import it elsewhere, answer it, it completes', async () => {
      const flowId = await makeFlow(alice, def);
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 21 } } });
      await waitForExecution(alice, data.execution_id, waiting);
      const pkg = (await alice.client.packages.exportExecution({ id: data.execution_id })).data;
      expect(pkg).to.include({ format_version: 1, status: 'waiting' });
      expect(pkg.steps.map((s) => s.node_id)).to.deep.equal(['start']);

      const imported = await carol.client.packages.importExecution({ executionPackage: pkg });
      expect(imported.status).to.equal(201);
      const id = imported.data.execution_id;
      expect(id).not.to.equal(data.execution_id);
      const copy = (await carol.client.executions.getExecution({ id })).data;
      expect(copy).to.include({ status: 'waiting', account_id: carol.account.id });
      await carol.client.hitl.signalExecution({
        id,
        signal: { node_id: 'ask', outcome: 'ok', values: { extra: 0.5 } },
      });
      expect((await waitForExecution(carol, id)).result).to.equal(42.5);
      const events = (await carol.client.executions.getExecutionEvents({ id, since: 0, limit: 1000 })).data.events;
      expect(events.slice(0, pkg.events.length).map((e) => e.type)).to.deep.equal(pkg.events.map((e) => e.type));
    });

    it('refuses a bad or tampered package with 422, leaving nothing behind', async () => {
      const flowId = await makeFlow(alice, def);
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 1 } } });
      await waitForExecution(alice, data.execution_id, waiting);
      const pkg = (await alice.client.packages.exportExecution({ id: data.execution_id })).data;
      const count = async (table: string) => (await server.db(table).where({ account_id: carol.account.id })).length;
      const [flowsBefore, executionsBefore] = [await count('flows'), await count('executions')];
      const cases: [string, unknown][] = [
        ['format_version', { ...pkg, format_version: 2 }],
        ['definition_hash', { ...pkg, definition: pkg.definition.replace('input.n * 2', 'input.n * 3') }],
        ['steps.0.node_id', { ...pkg, steps: [{ ...pkg.steps[0], node_id: 'ghost' }] }],
        ['events.1.seq', { ...pkg, events: [pkg.events[0], { ...pkg.events[2] }] }],
      ];
      for (const [field, bad] of cases) {
        const err = await expectError(
          carol.client.packages.importExecution({ executionPackage: bad as never }),
          422,
          'validation_error',
        );
        expect(err.details?.field, field).to.equal(field);
      }
      expect([await count('flows'), await count('executions')]).to.deep.equal([flowsBefore, executionsBefore]);
    });

    it('carries no secret value: steps, events and result masked, node outputs left out', async () => {
      const SECRET = 'tok-package-5f0c9e2a';
      await alice.client.secrets.putSecret({
        accountId: alice.account.id,
        secretWrite: { key: 'PKG_TOKEN', value: SECRET },
      });
      const flowId = await makeFlow(
        alice,
        `nodes:
  start:
    type: transform
    params: {expression: "'token ' & secrets.PKG_TOKEN"}
    next: say
  say:
    type: log
    params: {message: "calling with {{ secrets.PKG_TOKEN }}"}
    next: ask
  ask:
    type: input
    params: {outcomes: [{name: ok}]}
    next: {ok: finish}
  finish:
    type: transform
    params: {expression: "nodes.start.output"}
`,
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await waitForExecution(alice, data.execution_id, waiting);
      const pkg = (await alice.client.packages.exportExecution({ id: data.execution_id })).data;
      expect(JSON.stringify(pkg)).not.to.contain(SECRET);
      // The values were exported, masked (not dropped): the test would see a leak.
      expect(pkg.steps.map((s) => [s.node_id, s.output])).to.deep.include(['start', 'token ***']);
      expect(pkg.events.map((e) => (e as { message?: string }).message)).to.include('calling with ***');

      // What travels is the masked value: the copy goes on with it, not with the secret.
      const id = (await carol.client.packages.importExecution({ executionPackage: pkg })).data.execution_id;
      await carol.client.hitl.signalExecution({ id, signal: { node_id: 'ask', outcome: 'ok', values: {} } });
      expect(await waitForExecution(carol, id)).to.include({ status: 'completed', result: 'token ***' });
    });
  });

  describe('subflow', () => {
    let child: string;
    before(async () => {
      child = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: condition\n    params: {expression: "input.ok"}\n    next: {"true": good, "false": bad}\n  good: {type: transform, params: {expression: "input.n + 1"}}\n  bad: {type: fail, params: {message: "child says no"}}\n',
      );
    });
    const parentOf = (c: string) =>
      `nodes:\n  start:\n    type: subflow\n    params: {flow_id: "${c}", input: {ok: "{{ input.ok }}", n: 41}}\n    next: after\n  after:\n    type: transform\n    params: {expression: "nodes.start.output"}\n`;

    it('runs the child without holding a worker and takes its result; the child links to its parent', async () => {
      const parent = await makeFlow(alice, parentOf(child));
      const { data } = await alice.client.executions.runFlow({ id: parent, runFlowRequest: { input: { ok: true } } });
      const done = await waitForExecution(alice, data.execution_id);
      expect(done).to.include({ status: 'completed', result: 42 });
      const kids = await server.db('executions').where({ parent_execution_id: data.execution_id });
      expect(kids).to.have.length(1);
      expect(kids[0]).to.include({ status: 'completed', flow_id: child, depth: 1 });
    });

    it("fails with the child's failure", async () => {
      const parent = await makeFlow(alice, parentOf(child));
      const { data } = await alice.client.executions.runFlow({ id: parent, runFlowRequest: { input: { ok: false } } });
      const done = await waitForExecution(alice, data.execution_id);
      expect(done.status).to.equal('failed');
      expect(done.error).to.match(/failed: child says no/);
    });

    it('cancels the child with the parent, and the parent with the child', async () => {
      const slowChild = await makeFlow(alice, 'nodes:\n  start:\n    type: delay\n    params: {ms: 60000}\n');
      const parent = await makeFlow(alice, parentOf(slowChild));
      const one = (await alice.client.executions.runFlow({ id: parent, runFlowRequest: { input: { ok: true } } })).data
        .execution_id;
      const w1 = await waitForExecution(alice, one, waiting);
      await alice.client.executions.cancelExecution({ id: one });
      expect(
        (await alice.client.executions.getExecution({ id: w1.waiting_for!.child_execution_id! })).data.status,
      ).to.equal('cancelled');

      const two = (await alice.client.executions.runFlow({ id: parent, runFlowRequest: { input: { ok: true } } })).data
        .execution_id;
      const w2 = await waitForExecution(alice, two, waiting);
      await alice.client.executions.cancelExecution({ id: w2.waiting_for!.child_execution_id! });
      expect((await waitForExecution(alice, two)).status).to.equal('cancelled');
    });

    it('stops at 10 levels of nesting', async () => {
      const selfId = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: x}\n');
      await alice.client.flows.updateFlow({
        id: selfId,
        flowUpdate: {
          definition: `nodes:\n  start:\n    type: subflow\n    params: {flow_id: "${selfId}"}\n`,
        },
      });
      const { data } = await alice.client.executions.runFlow({ id: selfId, runFlowRequest: {} });
      const done = await waitForExecution(alice, data.execution_id);
      expect(done.status).to.equal('failed');
      const deepest = await server.db('executions').where({ flow_id: selfId }).max({ d: 'depth' }).first();
      expect(deepest!.d).to.equal(10);
      expect((await server.db('executions').where({ flow_id: selfId, depth: 10 }).first()).error).to.match(
        /at most 10 levels/,
      );
    });
  });

  describe('restarts', () => {
    it('keeps a waiting execution across a server restart', async () => {
      const flowId = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: approval\n    next: {approved: done}\n  done:\n    type: transform\n    params: {expression: "\'after restart\'"}\n',
      );
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      await waitForExecution(alice, data.execution_id, waiting);
      await server.close();
      server = await startTestServer();
      const again = apiClient(server.url, { token: alice.token });
      expect((await again.executions.getExecution({ id: data.execution_id })).data.status).to.equal('waiting');
      await again.hitl.approveExecution({ id: data.execution_id, decision: {} });
      expect(await waitForExecution({ client: again }, data.execution_id)).to.include({
        status: 'completed',
        result: 'after restart',
      });
    });
  });
});
