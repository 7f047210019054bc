import { expect } from 'chai';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

describe('foreach', () => {
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  let inFlight = 0;
  let maxInFlight = 0;
  const held: (() => void)[] = [];
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    alice = await makeAccount(server);
    // Echoes the item after a random pause, counting the calls in flight at once.
    target.route('/echo', (_req, body, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      }, Math.random() * 20);
    });
    target.route('/hold', (_req, _body, res) => {
      held.push(() => res.writeHead(200).end('{}'));
    });
  });
  after(async () => {
    for (const release of held) release();
    await server.close();
    await target.close();
  });

  const echoFlow = (items: number, concurrency: number) => `nodes:
  start:
    type: foreach
    params: {items: "{{ [1..${items}] }}", concurrency: ${concurrency}}
    next: {each: call}
  call:
    type: http.request
    params: {url: "${target.url}/echo", method: POST, body: {n: "{{ item }}", i: "{{ index }}"}}
    next: pick
  pick:
    type: transform
    params: {expression: "nodes.call.output.body.n * 10 + input.add"}
`;

  for (const [items, concurrency] of [
    [20, 1],
    [60, 10],
    [200, 100],
  ])
    it(`keeps the items' order with concurrency ${concurrency}, never more than that at once`, async function () {
      this.timeout(180_000);
      maxInFlight = 0;
      const flowId = await makeFlow(alice, echoFlow(items, concurrency));
      const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { add: 1 } } });
      const ex = await waitForExecution(alice, data.execution_id, undefined, 120_000);
      expect(ex.status, ex.error ?? '').to.equal('completed');
      const output = ex.result as { results: number[]; errors: unknown[] };
      expect(output.results).to.deep.equal(Array.from({ length: items }, (_, i) => (i + 1) * 10 + 1));
      expect(output.errors).to.deep.equal([]);
      expect(maxInFlight).to.be.at.most(concurrency);
      expect(ex.progress.foreach).to.deep.equal({ node_id: 'start', done: items, total: items, failed: 0 });
    });

  it('on_item_error continue collects per-item errors next to the results; fail stops at the first', async () => {
    const def = (mode: string) => `nodes:
  start:
    type: foreach
    params: {items: [1, 2, 3, 4, 5], concurrency: 1, on_item_error: ${mode}}
    next: {each: check, error: caught}
  check:
    type: condition
    params: {expression: "item % 2 = 0"}
    next: {true: bad, false: good}
  bad: {type: fail, params: {message: "even {{ item }}"}}
  good: {type: transform, params: {expression: "item"}}
  caught: {type: transform, params: {expression: "nodes.start"}}
`;
    const cont = await runToEnd(alice, await makeFlow(alice, def('continue')));
    expect(cont.status).to.equal('completed');
    expect(cont.result).to.deep.equal({
      results: [1, null, 3, null, 5],
      errors: [
        { index: 1, error: 'even 2' },
        { index: 3, error: 'even 4' },
      ],
    });
    expect(cont.progress.foreach).to.deep.include({ done: 5, failed: 2 });

    const stop = await runToEnd(alice, await makeFlow(alice, def('fail')));
    expect(stop.status).to.equal('completed');
    const caught = stop.result as { error: string; output: { results: unknown[] } };
    expect(caught.error).to.equal('item 1 failed: even 2');
    expect(caught.output.results).to.deep.equal([1, null, null, null, null]);
    // Items after the failed one never started.
    const children = await server.db('executions').where({ parent_execution_id: stop.id });
    expect(children).to.have.length(2);
  });

  it('runs a subflow per item with {item, index} as its input; each iteration is an identifiable child execution', async () => {
    const child = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: transform\n    params: {expression: "input.item.name & \'#\' & input.index"}\n',
    );
    const ex = await runToEnd(
      alice,
      await makeFlow(
        alice,
        `nodes:
  start:
    type: foreach
    params: {items: "{{ input.people }}", flow_id: ${child}}
`,
      ),
      { people: [{ name: 'ada' }, { name: 'bob' }] },
    );
    expect(ex.result).to.deep.equal({ results: ['ada#0', 'bob#1'], errors: [] });
    const children = await server.db('executions').where({ parent_execution_id: ex.id }).orderBy('id');
    expect(children.map((c) => [c.flow_id, c.iteration.node_id, c.iteration.index])).to.have.deep.members([
      [child, 'start', 0],
      [child, 'start', 1],
    ]);
    const seen = (await alice.client.executions.getExecution({ id: children[0].id })).data;
    expect(seen.parent_execution_id).to.equal(ex.id);
  });

  it('cancel stops pending items and aborts running ones', async () => {
    const abortedBefore = target.aborted;
    const hitsBefore = target.hits.filter((h) => h.path === '/hold').length;
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: foreach
    params: {items: "{{ [1..50] }}", concurrency: 3}
    next: {each: call}
  call: {type: http.request, params: {url: "${target.url}/hold", method: GET}}
`,
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await eventually(
      async () => expect(target.hits.filter((h) => h.path === '/hold').length - hitsBefore).to.equal(3),
      { timeout: 20_000, what: 'three iterations calling out' },
    );
    await alice.client.executions.cancelExecution({ id: data.execution_id });
    const ex = await waitForExecution(alice, data.execution_id);
    expect(ex.status).to.equal('cancelled');
    await eventually(async () => expect(target.aborted - abortedBefore).to.equal(3), {
      timeout: 10_000,
      what: 'the three running calls aborted',
    });
    const children = await server.db('executions').where({ parent_execution_id: ex.id });
    expect(children.map((c) => c.status)).to.deep.equal(['cancelled', 'cancelled', 'cancelled']);
    expect(target.hits.filter((h) => h.path === '/hold').length - hitsBefore).to.equal(3);
  });

  it('runs 10,000 items to completion, reporting progress in a few rate-limited events', async function () {
    // Each item is a child execution; on a busy machine this takes minutes.
    this.timeout(900_000);
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: foreach
    params: {items: "{{ [0..9999] }}", concurrency: 100}
    next: {each: double}
  double: {type: transform, params: {expression: "item * 2"}}
`,
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const ex = await waitForExecution(alice, data.execution_id, undefined, 880_000);
    expect(ex.status, ex.error ?? '').to.equal('completed');
    const results = (ex.result as { results: number[] }).results;
    expect(results).to.have.length(10_000);
    expect(results.every((r, i) => r === i * 2)).to.equal(true);
    expect(ex.progress.foreach).to.deep.equal({ node_id: 'start', done: 10_000, total: 10_000, failed: 0 });
    const events = (await alice.client.executions.getExecutionEvents({ id: ex.id, limit: 1000 })).data.events;
    const progress = events.filter((e) => e.type === 'log' && (e as { data?: { foreach?: unknown } }).data?.foreach);
    expect(progress.length).to.be.within(2, 1000);
    expect((progress[progress.length - 1] as unknown as { data: { foreach: unknown } }).data.foreach).to.deep.include({
      done: 10_000,
    });
  });

  it('refuses at save a foreach with both a body and a subflow, and an edge into its body from outside', async () => {
    const problems = async (definition: string) =>
      (
        await expectError(
          alice.client.flows.createFlow({ flowCreate: { name: `bad-${Math.random()}`, definition } }),
          422,
          'validation_error',
        )
      ).details!.errors as { node: string; path: string }[];
    expect(
      await problems(`nodes:
  start: {type: foreach, params: {items: [1], flow_id: x}, next: {each: body}}
  body: {type: transform, params: {expression: "1"}}
`),
    ).to.deep.include({
      node: 'start',
      path: 'nodes.start',
      message:
        'a foreach runs either the nodes its `each` edge leads to or a subflow (`params.flow_id`): name exactly one',
      line: 2,
      column: 3,
    });
    const leak = await problems(`nodes:
  start: {type: foreach, params: {items: [1]}, next: {each: body, default: body}}
  body: {type: transform, params: {expression: "1"}}
`);
    expect(leak.map((p) => p.path)).to.include('nodes.start.next.default');
  });
});
