/**
 * The engine's hot path under load, through in-process servers on one database: starts grouped
 * and handed over in memory, steps committed in batches, several workers claiming from one queue,
 * and a step whose result the database refuses inside a batch of good ones.
 */
import { expect } from 'chai';
import { Batcher } from '../../src/engine/batcher';
import { STEPS_IN_MEMORY as MAX_STEPS_IN_MEMORY } from '../../src/config';
import { MAX_ENGINE_FAILURES } from '../../src/engine/runner';
import type { StepWrite } from '../../src/repositories/step-commits.repository';
import { countClaims, eventSeqs, gappedEvents, startAll, stepsNotOnce, waitForAll } from '../support/engine-checks';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

const CHAIN = `nodes:
  start:
    type: transform
    params: {expression: "input.i + 1"}
    next: double
  double:
    type: transform
    params: {expression: "nodes.start.output * 2"}
    next: done
  done:
    type: transform
    params: {expression: "nodes.double.output + input.i"}
`;
const chainResult = (i: number) => (i + 1) * 2 + i;

describe('engine: batched starts, claims and step commits', function () {
  this.timeout(240_000);
  let api: TestServer;
  let target: Target;
  before(async () => {
    // Starts through this server are queued for any worker: it runs none of its own.
    api = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
    await api?.close();
  });

  it('runs 300 executions of a 3-node chain started at once, each exactly once, events gapless', async () => {
    const server = await startTestServer({ FLOWRUNNER_WORKER_CONCURRENCY: '16' });
    try {
      const owner = await makeAccount(server);
      const flowId = await makeFlow(owner, CHAIN);
      const inputs = Array.from({ length: 300 }, (_, i) => ({ i }));
      const ids = await startAll(owner, flowId, inputs);
      expect(new Set(ids).size).to.equal(300);
      await waitForAll(server.db, ids);

      const rows = await server.db('executions').whereIn('id', ids).select('id', 'input', 'result', 'step_count');
      const wrong = rows.filter((r) => r.result !== chainResult(r.input.i) || r.step_count !== 3);
      expect(wrong, 'executions with a wrong result or step count').to.deep.equal([]);
      expect(await stepsNotOnce(server.db, ids, ['start', 'double', 'done'])).to.deep.equal([]);
      const steps = await server.db('steps').whereIn('execution_id', ids).count({ n: '*' }).first();
      expect(Number(steps!.n)).to.equal(900);
      expect(await gappedEvents(server.db, ids)).to.deep.equal([]);
      const lengths = new Set([...(await eventSeqs(server.db, ids)).values()].map((s) => s.length));
      expect([...lengths], 'events per execution').to.have.length(1);
      // Through the API as well: one execution's steps and its events as a client reads them.
      const { data } = await owner.client.executions.getExecution({ id: ids[7] });
      expect([data.status, data.result]).to.deep.equal(['completed', chainResult(7)]);
      const events = (await owner.client.executions.getExecutionEvents({ id: ids[7] })).data.events;
      expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, k) => k + 1));
    } finally {
      await server.close();
    }
  });

  it('two workers claiming from one queue run every step once and complete every execution', async () => {
    target.route('/echo', (req, _body, res) => {
      const i = Number(new URL(req.url!, target.url).searchParams.get('i'));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ i }));
    });
    const env = { FLOWRUNNER_WORKER_CONCURRENCY: '8' };
    const first = await startTestServer(env);
    const second = await startTestServer(env);
    try {
      const claims = [countClaims(first), countClaims(second)];
      const owner = await makeAccount(api);
      const flowId = await makeFlow(
        owner,
        `nodes:
  start:
    type: transform
    params: {expression: "input.i"}
    next: call
  call:
    type: http.request
    params: {url: "${target.url}/echo?i={{ input.i }}"}
    next: done
  done:
    type: transform
    params: {expression: "nodes.call.output.body.i * 10"}
`,
      );
      const hitsBefore = target.hits.length;
      const ids = await startAll(
        owner,
        flowId,
        Array.from({ length: 200 }, (_, i) => ({ i })),
      );
      await waitForAll(api.db, ids);

      // The node with an outside effect ran once per execution: the target saw each input once.
      const calls = target.hits.slice(hitsBefore).map((h) => Number(new URL(h.path, target.url).searchParams.get('i')));
      expect(calls.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i));
      expect(await stepsNotOnce(api.db, ids, ['start', 'call', 'done'])).to.deep.equal([]);
      const rows = await api.db('executions').whereIn('id', ids).select('input', 'result', 'step_count');
      expect(rows.filter((r) => r.result !== r.input.i * 10 || r.step_count !== 3)).to.deep.equal([]);
      expect(await gappedEvents(api.db, ids)).to.deep.equal([]);
      // Both took work from the queue, so they did run side by side.
      expect(
        claims.map((n) => n()),
        'tasks each worker claimed',
      ).to.satisfy((ns: number[]) => ns.every((n) => n > 0));
    } finally {
      await second.close();
      await first.close();
    }
  });

  it("fails the step whose result the database refuses, not the others of its batch, and doesn't loop on it", async () => {
    // The bad result: PostgreSQL's jsonb has no place for a NUL character.
    const refused = await api.db.raw('select ?::jsonb', [JSON.stringify('a\u0000b')]).then(
      () => false,
      () => true,
    );
    expect(refused, 'jsonb refuses "\\u0000"').to.equal(true);

    // Every step commit submitted, and how it ended.
    const submitted: { executionId: string; outcome?: 'applied' | 'rejected' }[] = [];
    const submit = Batcher.prototype.submit;
    Batcher.prototype.submit = function (this: Batcher<unknown, unknown>, item: unknown) {
      const promise = submit.call(this, item);
      if (typeof item === 'object' && item !== null && 'taskId' in item) {
        const entry: (typeof submitted)[number] = { executionId: (item as StepWrite).executionId };
        submitted.push(entry);
        promise.then(
          () => (entry.outcome = 'applied'),
          () => (entry.outcome = 'rejected'),
        );
      }
      return promise;
    };
    const inFlight = () => submitted.filter((s) => s.outcome === undefined).length;
    // Entry steps go to the worker's batches here (inline starts commit theirs with the start: next test).
    const server = await startTestServer({
      FLOWRUNNER_WORKER_CONCURRENCY: '16',
      FLOWRUNNER_LEASE_MS: '1000',
      FLOWRUNNER_INLINE_STARTS: 'false',
    });
    // Holding back step rows keeps the first commit in flight while the others gather behind it.
    const hold = await api.db.transaction();
    try {
      const owner = await makeAccount(server);
      const good = await makeFlow(
        owner,
        'nodes:\n  start:\n    type: transform\n    params: {expression: "input.i * 3"}\n',
      );
      const bad = await makeFlow(
        owner,
        `nodes:\n  start:\n    type: transform\n    params: {expression: '"a\\u0000b"'}\n`,
      );
      await hold.raw('lock table steps in share mode');
      const [head] = await startAll(owner, good, [{ i: 100 }]);
      await eventually(() => inFlight() === 1, { timeout: 30_000, what: 'the first commit to be in flight' });
      const goods = await startAll(
        owner,
        good,
        Array.from({ length: 8 }, (_, i) => ({ i })),
      );
      const [poisoned] = await startAll(owner, bad, [{}]);
      await eventually(() => inFlight() === 10, { timeout: 30_000, what: 'all ten commits to be submitted' });
      await hold.commit();

      await waitForAll(server.db, [head, ...goods]);
      const ended = await waitForExecution(owner, poisoned, undefined, 60_000);
      expect([ended.status, ended.error]).to.deep.equal(['failed', 'internal_error']);

      const rows = await server.db('executions').whereIn('id', goods).select('input', 'result');
      expect(rows.filter((r) => r.result !== r.input.i * 3)).to.deep.equal([]);
      const byExecution = (id: string) => submitted.filter((s) => s.executionId === id).map((s) => s.outcome);
      // The good ones were written the first time, in the batch that failed: no retry after a lease.
      for (const id of [head, ...goods]) expect(byExecution(id), id).to.deep.equal(['applied']);
      expect(byExecution(poisoned)).to.deep.equal(Array(MAX_ENGINE_FAILURES).fill('rejected'));
      const steps = await server.db('steps').where({ execution_id: poisoned }).select('node_id', 'status', 'error');
      expect(steps).to.deep.equal([{ node_id: 'start', status: 'failed', error: 'internal_error' }]);
      expect(await server.db('tasks').where({ execution_id: poisoned })).to.deep.equal([]);
      expect(await gappedEvents(server.db, [head, ...goods, poisoned])).to.deep.equal([]);
    } finally {
      if (!hold.isCompleted()) await hold.rollback();
      Batcher.prototype.submit = submit;
      await server.close();
    }
  });

  it("commits foreach iterations' ends in batches: one the database refuses fails alone, every other item counts once", async () => {
    // Every iteration commit submitted (a step write, or a function of the transaction), and how it ended.
    const outcomes: ('applied' | 'rejected' | undefined)[] = [];
    const submit = Batcher.prototype.submit;
    Batcher.prototype.submit = function (this: Batcher<unknown, unknown>, item: unknown) {
      const promise = submit.call(this, item);
      if (typeof item === 'object' && item !== null && ('write' in item || 'commit' in item)) {
        const k = outcomes.push(undefined) - 1;
        promise.then(
          () => (outcomes[k] = 'applied'),
          () => (outcomes[k] = 'rejected'),
        );
      }
      return promise;
    };
    const server = await startTestServer({ FLOWRUNNER_WORKER_CONCURRENCY: '16', FLOWRUNNER_LEASE_MS: '1000' });
    // Holding back step rows keeps the first commits in flight while the others gather behind them.
    const hold = await api.db.transaction();
    const items = 24;
    try {
      const owner = await makeAccount(server);
      const flowId = await makeFlow(
        owner,
        `nodes:
  start:
    type: foreach
    params: {items: "{{ [0..${items - 1}] }}", concurrency: ${items}, on_item_error: continue}
    next: {each: triple}
  triple:
    type: transform
    params: {expression: 'item = 5 ? "a\\u0000b" : item * 3'}
`,
      );
      await hold.raw('lock table steps in share mode');
      const [parent] = await startAll(owner, flowId, [{}]);
      await eventually(() => outcomes.length >= 16, { timeout: 30_000, what: '16 iteration commits to be submitted' });
      await hold.commit();
      const ended = await waitForExecution(owner, parent, undefined, 60_000);
      expect(ended.status).to.equal('completed');
      expect(ended.result).to.deep.equal({
        results: Array.from({ length: items }, (_, i) => (i === 5 ? null : i * 3)),
        errors: [{ index: 5, error: 'internal_error' }],
      });
      expect(ended.progress?.foreach).to.deep.include({ done: items, total: items, failed: 1 });
      // Each good iteration's end was committed once; the bad one's was refused on each attempt.
      expect(outcomes.filter((o) => o === 'applied')).to.have.length(items - 1);
      expect(outcomes.filter((o) => o === 'rejected')).to.have.length(MAX_ENGINE_FAILURES);
      const children: { id: string; index: number }[] = await server
        .db('executions')
        .where({ parent_execution_id: parent })
        .select('id', server.db.raw("(iteration->>'index')::int as index"));
      const ids = children.map((c) => c.id);
      expect(ids).to.have.length(items);
      const good = children.filter((c) => c.index !== 5).map((c) => c.id);
      expect(await stepsNotOnce(server.db, good, ['triple'])).to.deep.equal([]);
      expect(await gappedEvents(server.db, [parent, ...ids])).to.deep.equal([]);
    } finally {
      if (!hold.isCompleted()) await hold.rollback();
      Batcher.prototype.submit = submit;
      await server.close();
    }
  });

  it('commits a one-node start with its step; an inline step the database refuses leaves its start to the worker', async () => {
    const server = await startTestServer({ FLOWRUNNER_WORKER_CONCURRENCY: '16', FLOWRUNNER_LEASE_MS: '1000' });
    try {
      const owner = await makeAccount(server);
      const good = await makeFlow(
        owner,
        'nodes:\n  start:\n    type: transform\n    params: {expression: "input.i * 3"}\n',
      );
      const bad = await makeFlow(
        owner,
        `nodes:\n  start:\n    type: transform\n    params: {expression: '"a\\u0000b"'}\n`,
      );
      // One at a time: each start is its own batch, so its answer shows what its commit held.
      const { data: one } = await owner.client.executions.runFlow({ id: good, runFlowRequest: { input: { i: 5 } } });
      expect(one.status, 'a start whose transform committed with it').to.equal('completed');
      const { data: poisoned } = await owner.client.executions.runFlow({ id: bad, runFlowRequest: { input: {} } });
      expect(poisoned.status, 'the start, committed without the step the database refused').to.equal('queued');

      // Many at once, the bad one among them: the good ones complete, the bad one fails on the worker.
      const goods = await startAll(
        owner,
        good,
        Array.from({ length: 40 }, (_, i) => ({ i })),
      );
      const [again] = await startAll(owner, bad, [{}]);
      await waitForAll(server.db, [one.execution_id, ...goods]);
      const rows = await server.db('executions').whereIn('id', goods).select('input', 'result', 'step_count');
      expect(rows.filter((r) => r.result !== r.input.i * 3 || r.step_count !== 1)).to.deep.equal([]);
      for (const id of [poisoned.execution_id, again]) {
        const ended = await waitForExecution(owner, id, undefined, 60_000);
        expect([ended.status, ended.error]).to.deep.equal(['failed', 'internal_error']);
      }
      const all = [one.execution_id, ...goods, poisoned.execution_id, again];
      expect(await stepsNotOnce(server.db, [one.execution_id, ...goods], ['start'])).to.deep.equal([]);
      expect(await gappedEvents(server.db, all)).to.deep.equal([]);
      const { data } = await owner.client.executions.getExecutionEvents({ id: one.execution_id });
      expect(data.events.map((e) => e.type)).to.include.members(['execution_update', 'node_started', 'node_completed']);
    } finally {
      await server.close();
    }
  });

  it('runs computing nodes in memory after the step before them and commits them together, a bounded number at a time', async () => {
    target.route('/echo', (req, _body, res) => {
      const i = Number(new URL(req.url!, target.url).searchParams.get('i'));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ i }));
    });
    const server = await startTestServer({ FLOWRUNNER_WORKER_CONCURRENCY: '4' });
    try {
      const owner = await makeAccount(server);
      const length = 40;
      const sums = Array.from(
        { length },
        (_, i) =>
          `  t${i}:\n    type: transform\n    params: {expression: "${i === 0 ? 'nodes.call.output.body.i' : `nodes.t${i - 1}.output`} + 1"}\n${i < length - 1 ? `    next: t${i + 1}\n` : ''}`,
      );
      // An HTTP call first (it never runs in memory), then 40 transforms; and the transforms alone.
      const mixed = await makeFlow(
        owner,
        `nodes:\n  call:\n    type: http.request\n    params: {url: "${target.url}/echo?i={{ input.i }}"}\n    next: t0\n${sums.join('')}`,
      );
      const pure = await makeFlow(owner, `nodes:\n${sums.join('').replace('nodes.call.output.body.i', 'input.i')}`);
      const [a] = await startAll(owner, mixed, [{ i: 2 }]);
      const [b] = await startAll(owner, pure, [{ i: 5 }]);
      await waitForAll(server.db, [a, b]);
      const rows = await server
        .db('executions')
        .whereIn('id', [a, b])
        .orderBy('id')
        .select('id', 'result', 'step_count');
      expect(rows.map((r) => [r.result, r.step_count])).to.deep.equal(
        [a, b].sort().map((id) => (id === a ? [2 + length, length + 1] : [5 + length, length])),
      );
      expect(await stepsNotOnce(server.db, [a], ['call', ...sums.map((_, i) => `t${i}`)])).to.deep.equal([]);
      expect(await gappedEvents(server.db, [a, b])).to.deep.equal([]);
      // Steps written by one transaction share its xmin: the HTTP step with the 15 transforms after
      // it, then 16, then 9; the transforms alone: 16 with the start, 16, 8.
      const writes = async (id: string) =>
        (
          await server.db.raw(
            `select count(*)::int as n from steps where execution_id = ? group by xmin::text order by min(started_at)`,
            [id],
          )
        ).rows.map((r: { n: number }) => r.n);
      expect(await writes(a)).to.deep.equal([
        MAX_STEPS_IN_MEMORY,
        MAX_STEPS_IN_MEMORY,
        length + 1 - 2 * MAX_STEPS_IN_MEMORY,
      ]);
      expect(await writes(b)).to.deep.equal([
        MAX_STEPS_IN_MEMORY,
        MAX_STEPS_IN_MEMORY,
        length - 2 * MAX_STEPS_IN_MEMORY,
      ]);
      const xmin = async (sql: string) => (await server.db.raw(sql, [b])).rows[0].x as string;
      expect(
        await xmin(`select xmin::text as x from events where execution_id = ? and seq = 1`),
        'the start event, written with the first steps',
      ).to.equal(await xmin(`select xmin::text as x from steps where execution_id = ? order by started_at limit 1`));
    } finally {
      await server.close();
    }
  });
});
