import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('runs (003) and listing', () => {
  let server: TestServer;
  let alice: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: transform\n    params: {expression: "input.n"}\n');
  });
  after(() => server.close());

  it('starts a run (202 RunRef, Location), reads it with its definition hash, and lists it', async () => {
    const res = await alice.client.runs.startRun({
      runStartRequest: { flow_id: flowId, input: { n: 1 }, client_id: 'billing' },
    });
    expect(res.status).to.equal(202);
    // Its one transform ran and committed with the start (inline starts): the RunRef says so.
    expect(res.data).to.include({ flow_id: flowId, status: 'completed' });
    expect(res.headers.location).to.equal(`/api/v1/runs/${res.data.id}`);
    await waitForExecution(alice, res.data.id);
    const run = (await alice.client.runs.getRun({ runId: res.data.id })).data;
    expect(run).to.include({ id: res.data.id, status: 'completed', outputs: 1, client_id: 'billing', flow_version: 1 });
    const def = (await alice.client.runs.getRunDefinition({ runId: run.id })).data;
    expect(run.definition_hash).to.equal(def.definition_hash);
    expect(
      (await alice.client.runs.listRuns({ limit: 50, clientId: 'billing' })).data.items.map((r) => r.id),
    ).to.deep.equal([run.id]);
    await expectError(alice.client.runs.startRun({ runStartRequest: { flow_id: 'flow-missing' } }), 404, 'not_found');
    await expectError(alice.client.runs.startRun({ runStartRequest: { input: {} } as never }), 400, 'invalid_request');
  });

  describe('Idempotency-Key', () => {
    it('same key and body: the same execution, in its current state', async () => {
      const first = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: { n: 2 } },
        idempotencyKey: 'key-same',
      });
      expect(first.data.status).to.equal('queued');
      await waitForExecution(alice, first.data.execution_id);
      const again = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: { n: 2 } },
        idempotencyKey: 'key-same',
      });
      expect(again.status).to.equal(first.status);
      // The same execution, not the first answer again: it has completed since.
      expect(again.data).to.deep.equal({ ...first.data, status: 'completed' });
      const run1 = await alice.client.runs.startRun({
        runStartRequest: { flow_id: flowId, input: { n: 2 } },
        idempotencyKey: 'run-key',
      });
      const run2 = await alice.client.runs.startRun({
        runStartRequest: { flow_id: flowId, input: { n: 2 } },
        idempotencyKey: 'run-key',
      });
      expect(run2.data.id).to.equal(run1.data.id);
      expect(['queued', 'running', 'completed']).to.include(run2.data.status);
      expect((await server.db('idempotency_keys').where({ account_id: alice.account.id })).length).to.equal(2);
    });

    it('same key, different body: 409 conflict', async () => {
      await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: { n: 3 } },
        idempotencyKey: 'key-diff',
      });
      const err = await expectError(
        alice.client.executions.runFlow({
          id: flowId,
          runFlowRequest: { input: { n: 4 } },
          idempotencyKey: 'key-diff',
        }),
        409,
        'conflict',
      );
      expect(err.details?.field).to.equal('Idempotency-Key');
      await expectError(
        alice.client.runs.startRun({
          runStartRequest: { flow_id: flowId, input: { n: 3 }, client_id: 'other' },
          idempotencyKey: 'key-diff',
        }),
        409,
        'conflict',
      );
    });

    it('concurrent requests with one key: exactly one execution', async () => {
      const before = (await server.db('executions').where({ account_id: alice.account.id }).count({ n: '*' }))[0].n;
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          alice.client.executions.runFlow({
            id: flowId,
            runFlowRequest: { input: { n: 5 } },
            idempotencyKey: 'key-race',
          }),
        ),
      );
      expect(new Set(results.map((r) => r.data.execution_id)).size).to.equal(1);
      const after = (await server.db('executions').where({ account_id: alice.account.id }).count({ n: '*' }))[0].n;
      expect(Number(after) - Number(before)).to.equal(1);
    });

    it('keys are scoped to the account', async () => {
      const bob = await makeAccount(server);
      const bobFlow = await makeFlow(bob, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n');
      const a = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: {} },
        idempotencyKey: 'shared-key',
      });
      const b = await bob.client.executions.runFlow({
        id: bobFlow,
        runFlowRequest: { input: {} },
        idempotencyKey: 'shared-key',
      });
      expect(a.data.execution_id).not.to.equal(b.data.execution_id);
    });

    const refusedKeys: [string, string][] = [
      ['empty', ''],
      ['with a space', 'has space'],
      ['with a tab', 'has\ttab'],
      ['not ASCII', 'caf\u00e9'],
      ['over 255 characters', 'x'.repeat(256)],
    ];
    for (const [what, key] of refusedKeys) {
      it(`rejects a key ${what} (400), starting nothing`, async () => {
        const before = await server.db('executions').where({ account_id: alice.account.id }).count({ n: '*' });
        const err = await expectError(
          alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} }, idempotencyKey: key }),
          400,
          'invalid_request',
        );
        // Header names are case-insensitive (the 409 says Idempotency-Key, the validator lower-cases).
        expect(String(err.details?.field).toLowerCase()).to.equal('idempotency-key');
        const after = await server.db('executions').where({ account_id: alice.account.id }).count({ n: '*' });
        expect(after).to.deep.equal(before);
      });
    }

    it('accepts a key of 255 printable characters', async () => {
      const key = '!~' + 'k'.repeat(253);
      const first = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: {} },
        idempotencyKey: key,
      });
      expect(first.status).to.equal(202);
      const again = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: {} },
        idempotencyKey: key,
      });
      expect(again.data.execution_id).to.equal(first.data.execution_id);
    });
  });

  describe('pagination', () => {
    let owner: TestAccount;
    let ids: string[];
    let late: string;
    before(async () => {
      owner = await makeAccount(server);
      const f = await makeFlow(owner, 'nodes:\n  start:\n    type: transform\n    params: {expression: "1"}\n');
      ids = [];
      for (let i = 0; i < 7; i++)
        ids.push(
          (await owner.client.runs.startRun({ runStartRequest: { flow_id: f, client_id: i % 2 ? 'odd' : 'even' } }))
            .data.id,
        );
      for (const id of ids) await waitForExecution(owner, id);
      ids.reverse(); // newest first
    });

    it('offset pagination with total (004), newest first', async () => {
      const page = (await owner.client.executions.listExecutions({ limit: 3, offset: 2 })).data;
      expect(page).to.include({ total: 7, limit: 3, offset: 2 });
      expect(page.executions.map((e) => e.id)).to.deep.equal(ids.slice(2, 5));
      expect(
        (await owner.client.executions.listExecutions({ status: 'completed' as never, limit: 100 })).data.total,
      ).to.equal(7);
      expect(
        (await owner.client.executions.listExecutions({ status: 'failed' as never, limit: 100 })).data.total,
      ).to.equal(0);
    });

    it('cursor pagination (003) walks every item once, stable under new inserts', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let first = true;
      do {
        const { data } = await owner.client.runs.listRuns({ limit: 3, cursor });
        seen.push(...data.items.map((r) => r.id));
        cursor = data.next_cursor ?? undefined;
        if (first) {
          // A run started mid-walk does not shift the pages.
          const f = data.items[0].flow_id;
          late = (await owner.client.runs.startRun({ runStartRequest: { flow_id: f, client_id: 'late' } })).data.id;
          first = false;
        }
      } while (cursor);
      expect(seen).to.deep.equal(ids);
      const odd = (await owner.client.runs.listRuns({ limit: 50, clientId: 'odd' })).data;
      expect(odd.items).to.have.length(3);
      expect(odd.next_cursor).to.equal(null);
      await expectError(owner.client.runs.listRuns({ limit: 50, cursor: 'garbage' }), 400, 'invalid_request');
    });

    it('the executions list takes the same cursor', async () => {
      await waitForExecution(owner, late);
      const p1 = (await owner.client.executions.listExecutions({ status: 'completed' as never, limit: 4 })).data;
      const p2 = (
        await owner.client.executions.listExecutions({
          status: 'completed' as never,
          limit: 4,
          cursor: p1.next_cursor!,
        })
      ).data;
      expect(p1.total).to.equal(8);
      expect([...p1.executions, ...p2.executions].map((e) => e.id)).to.deep.equal([late, ...ids]);
    });
  });
});
