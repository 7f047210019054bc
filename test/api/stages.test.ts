/**
 * Issue 15 from 002 and 001: draft and live stages, named runs, declared outputs, attribution
 * (who started it, the flow's name, the flow request), `include=steps`, and per-run approval.
 */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

const says = (what: string) => `nodes:\n  start:\n    type: transform\n    params: {expression: "'${what}'"}\n`;

describe('stages, named runs, outputs, attribution and per-run approval (issue 15)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  let admin: TestAccount;
  let target: Target;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    carol = await makeAccount(server);
    admin = await makeAccount(server, { role: 'admin' });
  });
  after(async () => {
    await target.close();
    await server.close();
  });

  const run = async (who: TestAccount, flowId: string, extra: Record<string, unknown> = {}) =>
    (await who.client.executions.runFlow({ id: flowId, runFlowRequest: { ...extra } })).data.execution_id;

  describe('draft and live stages', () => {
    it('runs the latest until a version is promoted, then the live one; stage is recorded and filterable', async () => {
      const flowId = await makeFlow(alice, says('v1'));
      await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: says('v2') } });
      const flow = (await alice.client.flows.getFlow({ id: flowId })).data;
      expect(flow).to.include({ live_version: null, version_number: 2 });

      const before = await waitForExecution(alice, await run(alice, flowId));
      expect(before).to.include({ stage: 'draft', flow_version: 2, result: 'v2' });
      const noLive = await expectError(
        alice.client.executions.runFlow({ id: flowId, runFlowRequest: { stage: 'live' } }),
        422,
        'validation_error',
      );
      expect(noLive.details).to.include({ field: 'stage' });

      const promoted = (await alice.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: { version: 1 } }))
        .data;
      expect(promoted).to.include({ live_version: 1, version_number: 2 });
      expect((await alice.client.flows.listFlows({})).data.flows.find((f) => f.id === flowId)).to.include({
        live_version: 1,
      });

      const live = await waitForExecution(alice, await run(alice, flowId));
      expect(live).to.include({ stage: 'live', flow_version: 1, result: 'v1' });
      const draft = await waitForExecution(alice, await run(alice, flowId, { stage: 'draft' }));
      expect(draft).to.include({ stage: 'draft', flow_version: 2, result: 'v2' });
      const askedLive = await waitForExecution(alice, await run(alice, flowId, { stage: 'live' }));
      expect(askedLive).to.include({ stage: 'live', flow_version: 1 });

      const lives = (await alice.client.executions.listExecutions({ flowId, stage: 'live' })).data.executions;
      expect(lives.map((e) => e.id)).to.deep.equal([askedLive.id, live.id]);
      expect(lives.every((e) => e.stage === 'live')).to.equal(true);
      const drafts = (await alice.client.runs.listRuns({ flowId, stage: 'draft' })).data.items;
      expect(drafts.map((r) => r.id)).to.deep.equal([draft.id, before.id]);
    });

    it('startRun may name an exact version; with stage live it must be the live one; a version it lacks is 422', async () => {
      const flowId = await makeFlow(alice, says('v1'));
      await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: says('v2') } });
      await alice.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: says('v3') } });
      await alice.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: { version: 2 } });
      const start = async (body: Record<string, unknown>) =>
        (await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, ...body } })).data.id;

      const one = await waitForExecution(alice, await start({ flow_version: 1 }));
      expect(one).to.include({ flow_version: 1, stage: 'draft', result: 'v1' });
      const two = (await alice.client.runs.getRun({ runId: await start({ flow_version: 2 }), wait: 10 })).data;
      expect(two).to.include({ flow_version: 2, stage: 'live', status: 'completed' });
      const twoLive = await waitForExecution(alice, await start({ flow_version: 2, stage: 'live' }));
      expect(twoLive).to.include({ flow_version: 2, stage: 'live', result: 'v2' });
      const latest = await waitForExecution(alice, await start({ stage: 'draft' }));
      expect(latest).to.include({ flow_version: 3, stage: 'draft', result: 'v3' });

      const count = (await alice.client.executions.listExecutions({ flowId })).data.total;
      const wrong = await expectError(start({ flow_version: 3, stage: 'live' }), 422, 'validation_error');
      expect(wrong.details).to.include({ field: 'flow_version' });
      const missing = await expectError(start({ flow_version: 9 }), 422, 'validation_error');
      expect(missing.details).to.include({ field: 'flow_version' });
      await expectError(start({ flow_version: 0 }), 400, 'invalid_request');
      expect((await alice.client.executions.listExecutions({ flowId })).data.total).to.equal(count);
    });

    it('promoting: a version the flow lacks is 422, another account gets 404; updated_by says who promoted', async () => {
      const flowId = await makeFlow(alice, says('v1'));
      const created = (await alice.client.flows.getFlow({ id: flowId })).data;
      expect(created.created_by).to.deep.equal({ id: alice.account.id, email: alice.account.email });
      expect(created.updated_by).to.deep.equal({ id: alice.account.id, email: alice.account.email });
      const bad = await expectError(
        alice.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: { version: 2 } }),
        422,
        'validation_error',
      );
      expect(bad.details).to.include({ field: 'version' });
      await expectError(
        bob.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: { version: 1 } }),
        404,
        'not_found',
      );
      await expectError(
        alice.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: {} as never }),
        400,
        'invalid_request',
      );
      expect((await alice.client.flows.getFlow({ id: flowId })).data.live_version).to.equal(null);
      const promoted = (await admin.client.flows.setFlowLiveVersion({ id: flowId, liveVersionRequest: { version: 1 } }))
        .data;
      expect(promoted.created_by).to.deep.equal({ id: alice.account.id, email: alice.account.email });
      expect(promoted.updated_by).to.deep.equal({ id: admin.account.id, email: admin.account.email });
    });
  });

  describe('named runs and declared outputs', () => {
    const OUTPUTS_FLOW = [
      'inputs:',
      '  type: object',
      '  properties: {n: {}}',
      'outputs:',
      '  type: object',
      '  required: [total, customer]',
      '  properties:',
      '    total: {type: number}',
      '    customer: {type: string}',
      'nodes:',
      '  start:',
      '    type: transform',
      `    params: {expression: "{'total': input.n, 'customer': 'acme'}"}`,
      '',
    ].join('\n');

    it('a run keeps its name, shown and filterable on both lists; a name of 0 or 101 characters is 400', async () => {
      const flowId = await makeFlow(alice, says('x'));
      const named = await run(alice, flowId, { name: 'Process invoice 42' });
      const other = (await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, name: 'Other' } })).data.id;
      await run(alice, flowId);
      expect((await alice.client.executions.getExecution({ id: named })).data.name).to.equal('Process invoice 42');
      expect((await alice.client.runs.getRun({ runId: other })).data.name).to.equal('Other');
      const byName = (await alice.client.executions.listExecutions({ name: 'Process invoice 42' })).data;
      expect(byName.executions.map((e) => e.id)).to.deep.equal([named]);
      expect(byName.executions[0].name).to.equal('Process invoice 42');
      expect((await alice.client.runs.listRuns({ name: 'Other' })).data.items.map((r) => r.id)).to.deep.equal([other]);
      expect((await bob.client.runs.listRuns({ name: 'Other' })).data.items).to.deep.equal([]);
      await expectError(run(alice, flowId, { name: '' }), 400, 'invalid_request');
      await expectError(run(alice, flowId, { name: 'x'.repeat(101) }), 400, 'invalid_request');
      expect(await run(alice, flowId, { name: 'x'.repeat(100) })).to.match(/^exec-/);
    });

    it('the flow shows its inputs and outputs schemas; a matching result reads as [{name, value}]', async () => {
      const flowId = await makeFlow(alice, OUTPUTS_FLOW);
      const flow = (await alice.client.flows.getFlow({ id: flowId })).data;
      expect(flow.inputs_schema).to.deep.equal({ type: 'object', properties: { n: {} } });
      expect(flow.outputs_schema).to.deep.include({ type: 'object', required: ['total', 'customer'] });
      expect((await alice.client.flows.getFlow({ id: await makeFlow(alice, says('x')) })).data).to.include({
        inputs_schema: null,
        outputs_schema: null,
      });

      const queued = (await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, input: { n: 42 } } }))
        .data;
      const done = (await alice.client.runs.getRun({ runId: queued.id, wait: 10 })).data;
      expect(done.status).to.equal('completed');
      expect(done.outputs).to.deep.equal({ total: 42, customer: 'acme' });
      const expected = [
        { name: 'customer', value: 'acme' },
        { name: 'total', value: 42 },
      ];
      expect(done.named_outputs).to.deep.equal(expected);
      expect((await alice.client.executions.getExecution({ id: queued.id })).data.named_outputs).to.deep.equal(
        expected,
      );
      const waiting = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 1 } } })).data;
      expect((await alice.client.executions.getExecution({ id: waiting.execution_id, wait: 10 })).data).to.deep.include(
        {
          status: 'completed',
          named_outputs: [
            { name: 'customer', value: 'acme' },
            { name: 'total', value: 1 },
          ],
        },
      );
    });

    it('a result that does not match the outputs schema fails the execution, naming the field', async () => {
      const flowId = await makeFlow(alice, OUTPUTS_FLOW);
      const failed = await waitForExecution(alice, await run(alice, flowId, { input: { n: 'many' } }));
      expect(failed.status).to.equal('failed');
      expect(failed.error).to.contain('outputs.total').and.contain('must be number');
      expect(failed.named_outputs).to.equal(null);
      const logs = (await alice.client.executions.getExecutionLogs({ id: failed.id, limit: 100 })).data.logs;
      expect(logs.some((l) => l.level === 'error' && l.message.includes('outputs.total'))).to.equal(true);
    });

    it('an outputs schema that is not a JSON Schema is refused when the flow is saved', async () => {
      const err = await expectError(
        alice.client.flows.createFlow({
          flowCreate: { name: 'bad-outputs', definition: `outputs: {type: 12}\n${says('x')}` },
        }),
        422,
        'validation_error',
      );
      expect(JSON.stringify(err.details)).to.contain('outputs');
    });
  });

  describe('attribution and include=steps', () => {
    const TWO_STEPS =
      'nodes:\n  first:\n    type: transform\n    params: {expression: "\'one\'"}\n    next: {default: second}\n  second:\n    type: transform\n    params: {expression: "\'two\'"}\n';

    it('executions and runs, and their lists, show who started them, the flow name, approval status and the flow request', async () => {
      const flowId = await makeFlow(alice, says('x'), 'Attributed flow');
      const request = (
        await alice.client.flowRequests.createFlowRequest({
          flowRequestCreate: { name: 'Weekly', instructions: 'Process this request.' },
        })
      ).data;
      const id = await run(alice, flowId, { flow_request_id: request.id });
      const ex = await waitForExecution(alice, id);
      const who = { id: alice.account.id, email: alice.account.email };
      const flowRequest = { id: request.id, name: 'Weekly', instructions: 'Process this request.' };
      expect(ex).to.deep.include({ started_by: who, flow_name: 'Attributed flow', approval_status: null });
      expect(ex.flow_request).to.deep.equal(flowRequest);
      const listed = (await alice.client.executions.listExecutions({ flowId })).data.executions[0];
      expect(listed).to.deep.include({ id, started_by: who, flow_name: 'Attributed flow', approval_status: null });
      expect(listed.flow_request).to.deep.equal(flowRequest);
      expect(listed).to.not.have.property('steps');
      const asRun = (await alice.client.runs.getRun({ runId: id })).data;
      expect(asRun).to.deep.include({ started_by: who, flow_name: 'Attributed flow', approval_status: null });
      expect(asRun.flow_request).to.deep.equal(flowRequest);
      expect((await alice.client.runs.listRuns({ flowId })).data.items[0]).to.deep.include({ started_by: who });

      // Run-and-wait answers from the row the engine committed: the same attribution.
      const waited = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {}, wait: 10 });
      expect(waited.status).to.equal(200);
      expect(waited.data).to.deep.include({ started_by: who, flow_name: 'Attributed flow', flow_request: null });
      const waitedRun = await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId }, wait: 10 });
      expect(waitedRun.data).to.deep.include({ started_by: who, flow_name: 'Attributed flow' });

      // A deleted flow keeps its name on its executions.
      await alice.client.flows.deleteFlow({ id: flowId });
      expect((await alice.client.executions.getExecution({ id })).data.flow_name).to.equal('Attributed flow');
    });

    it('include=steps embeds the latest attempt of each node, on get and on every item of a list', async () => {
      const flowId = await makeFlow(alice, TWO_STEPS);
      const a = await waitForExecution(alice, await run(alice, flowId));
      const b = await waitForExecution(alice, await run(alice, flowId));
      const got = (await alice.client.executions.getExecution({ id: a.id, include: 'steps' })).data;
      expect(got.steps!.map((s) => [s.node_id, s.status, s.output])).to.deep.equal([
        ['first', 'completed', 'one'],
        ['second', 'completed', 'two'],
      ]);
      expect((await alice.client.executions.getExecution({ id: a.id })).data).to.not.have.property('steps');
      const page = (await alice.client.executions.listExecutions({ flowId, include: 'steps' })).data.executions;
      expect(page.map((e) => e.id)).to.deep.equal([b.id, a.id]);
      for (const e of page) expect(e.steps!.map((s) => s.node_id)).to.deep.equal(['first', 'second']);
      await expectError(
        alice.client.executions.getExecution({ id: a.id, include: 'nodes' as never }),
        400,
        'invalid_request',
      );
    });

    it('include=steps shows a retried node once, with its last attempt', async () => {
      let calls = 0;
      target.route('/flaky', (_req, _body, res) => {
        calls++;
        res.writeHead(calls === 1 ? 503 : 200, { 'content-type': 'application/json' }).end('{"calls":' + calls + '}');
      });
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/flaky"}\n    retry: {max_attempts: 3, backoff_ms: 1}\n`,
      );
      const done = await waitForExecution(alice, await run(alice, flowId));
      expect(done.status).to.equal('completed');
      const all = (await alice.client.executions.getExecutionSteps({ id: done.id })).data.steps;
      expect(all.map((s) => s.attempt)).to.deep.equal([1, 2]);
      const got = (await alice.client.executions.getExecution({ id: done.id, include: 'steps' })).data.steps!;
      expect(got.map((s) => [s.node_id, s.attempt, s.status])).to.deep.equal([['start', 2, 'completed']]);
    });
  });

  describe('per-run approval', () => {
    const approvalFlow = (rule: string) => `approval: {${rule}}\n${says('ran')}`;

    it('a run may ask for an approval its flow does not require, with its own approvers and no_self_approval', async () => {
      const flowId = await makeFlow(alice, says('ran'));
      const id = await run(alice, flowId, {
        approval: { required: true, approvers: [bob.account.id], no_self_approval: true },
      });
      const waiting = (await alice.client.executions.getExecution({ id })).data;
      expect(waiting).to.include({ status: 'waiting', approval_status: 'pending' });
      expect(waiting.waiting_for).to.deep.include({ approvers: [bob.account.id], no_self_approval: true });
      await expectError(alice.client.hitl.approveExecution({ id, decision: {} }), 403, 'forbidden');
      expect((await bob.client.hitl.approveExecution({ id, decision: {} })).data.approval_status).to.equal('approved');
      expect(await waitForExecution(alice, id)).to.include({ status: 'completed', result: 'ran' });
      // `required: false` asks for nothing.
      const plain = await waitForExecution(alice, await run(alice, flowId, { approval: { required: false } }));
      expect(plain).to.include({ status: 'completed', approval_status: null });
    });

    it("makes the flow's rule stricter: fewer approvers, and no self-approval", async () => {
      const flowId = await makeFlow(
        alice,
        approvalFlow(`required: true, approvers: ["${bob.account.id}", "${carol.account.id}"]`),
      );
      const id = (
        await alice.client.runs.startRun({
          runStartRequest: {
            flow_id: flowId,
            approval: { approvers: [carol.account.id], no_self_approval: true },
          },
        })
      ).data.id;
      const waiting = (await alice.client.runs.getRun({ runId: id })).data;
      expect(waiting).to.include({ status: 'waiting', approval_status: 'pending' });
      const ex = (await alice.client.executions.getExecution({ id })).data;
      expect(ex.waiting_for).to.deep.include({ approvers: [carol.account.id], no_self_approval: true });
      // Bob, whom the flow names, is not an approver of this run: it is not his to see (404).
      await expectError(bob.client.hitl.approveExecution({ id, decision: {} }), 404, 'not_found');
      await expectError(alice.client.hitl.approveExecution({ id, decision: {} }), 403, 'forbidden');
      expect((await carol.client.hitl.approveExecution({ id, decision: {} })).data.approval_status).to.equal(
        'approved',
      );
      expect(await waitForExecution(alice, id)).to.include({ status: 'completed' });
    });

    it('adds no_self_approval to a flow that lets anyone approve: the starter is refused, someone else decides', async () => {
      const flowId = await makeFlow(alice, approvalFlow('required: true'));
      const open = await run(alice, flowId);
      expect((await alice.client.hitl.approveExecution({ id: open, decision: {} })).data.approval_status).to.equal(
        'approved',
      );
      const strict = await run(alice, flowId, { approval: { no_self_approval: true } });
      const err = await expectError(alice.client.hitl.approveExecution({ id: strict, decision: {} }), 403, 'forbidden');
      expect(err.message).to.contain('no_self_approval');
      expect((await admin.client.hitl.approveExecution({ id: strict, decision: {} })).data.approval_status).to.equal(
        'approved',
      );
      expect(await waitForExecution(alice, strict)).to.include({ status: 'completed' });
    });

    it("cannot loosen the flow's rule: required false and no_self_approval false are ignored", async () => {
      const flowId = await makeFlow(
        alice,
        approvalFlow(`required: true, approvers: ["${alice.account.id}", "${bob.account.id}"], no_self_approval: true`),
      );
      const id = await run(alice, flowId, { approval: { required: false, no_self_approval: false } });
      const ex = (await alice.client.executions.getExecution({ id })).data;
      expect(ex).to.include({ status: 'waiting', approval_status: 'pending' });
      expect(ex.waiting_for).to.deep.include({
        approvers: [alice.account.id, bob.account.id],
        no_self_approval: true,
      });
      await expectError(alice.client.hitl.approveExecution({ id, decision: {} }), 403, 'forbidden');
      await bob.client.hitl.approveExecution({ id, decision: {} });
      expect(await waitForExecution(alice, id)).to.include({ status: 'completed' });
    });

    it('refuses (422, nothing started) approvers the flow does not allow, which would leave nobody to approve', async () => {
      const flowId = await makeFlow(alice, approvalFlow(`required: true, approvers: ["${bob.account.id}"]`));
      const before = (await alice.client.executions.listExecutions({ flowId })).data.total;
      const err = await expectError(
        alice.client.executions.runFlow({
          id: flowId,
          runFlowRequest: { approval: { approvers: [carol.account.id] } },
        }),
        422,
        'validation_error',
      );
      expect(err.details).to.include({ field: 'approval.approvers' });
      expect((await alice.client.executions.listExecutions({ flowId })).data.total).to.equal(before);
      await expectError(
        alice.client.executions.runFlow({ id: flowId, runFlowRequest: { approval: { approvers: 'x' } as never } }),
        400,
        'invalid_request',
      );
    });
  });
});
