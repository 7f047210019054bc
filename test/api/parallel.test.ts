import { expect } from 'chai';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

/** A flow whose parallel `start` runs the given branches into `merge` (a join with these params). */
function parallelFlow(branches: string, join: string, after = ''): string {
  return `nodes:
  start:
    type: parallel
    params: {join: merge}
${branches}
  merge:
    type: join
    params: ${join}
${after}`;
}

describe('parallel branches and join', () => {
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  const held: (() => void)[] = [];
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    alice = await makeAccount(server);
    // Answers only when released: a branch that is still running.
    target.route('/hold', (_req, _body, res) => {
      held.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'));
    });
    target.route('/boom', (_req, _body, res) => res.writeHead(500).end('no'));
  });
  after(async () => {
    for (const release of held) release();
    await server.close();
    await target.close();
  });

  const joinSteps = async (id: string) =>
    (await alice.client.executions.getExecutionSteps({ id })).data.steps.filter((s) => s.node_id === 'merge');

  it('all: branches of different lengths (one empty) meet once; each output under its branch name', async () => {
    const flowId = await makeFlow(
      alice,
      parallelFlow(
        `    next: {short: a1, long: b1, empty: merge}
  a1: {type: transform, params: {expression: "input.n + 1"}, next: merge}
  b1: {type: transform, params: {expression: "input.n * 10"}, next: b2}
  b2: {type: transform, params: {expression: "nodes.b1.output + 5"}, next: merge}`,
        '{wait_for: all}',
        `    next: total
  total: {type: transform, params: {expression: "nodes.merge.output.short + nodes.merge.output.long"}}`,
      ),
    );
    const ex = await runToEnd(alice, flowId, { n: 2 });
    expect(ex.status).to.equal('completed');
    expect(ex.result).to.equal(3 + 25);
    const steps = (await alice.client.executions.getExecutionSteps({ id: ex.id })).data.steps;
    expect(steps.find((s) => s.node_id === 'merge')!.output).to.deep.equal({ short: 3, long: 25, empty: null });
    // (Edge order is not kept by the stored definition: the branches are a set.)
    expect((steps.find((s) => s.node_id === 'start')!.output as { branches: string[] }).branches).to.have.members([
      'short',
      'long',
      'empty',
    ]);
    expect(steps.filter((s) => s.node_id === 'merge')).to.have.length(1);
  });

  it('runs the join exactly once when many branches finish together, over many executions', async () => {
    const branches = ['a', 'b', 'c', 'd', 'e', 'f'];
    const flowId = await makeFlow(
      alice,
      parallelFlow(
        `    next: {${branches.map((b) => `${b}: n_${b}`).join(', ')}}
${branches.map((b) => `  n_${b}: {type: transform, params: {expression: "'${b}'"}, next: merge}`).join('\n')}`,
        '{}',
      ),
    );
    const ids = await Promise.all(
      Array.from(
        { length: 20 },
        async () => (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id,
      ),
    );
    for (const id of ids) {
      const ex = await waitForExecution(alice, id);
      expect(ex.status).to.equal('completed');
      expect(ex.result).to.deep.equal(Object.fromEntries(branches.map((b) => [b, b])));
      expect(await joinSteps(id)).to.have.length(1);
    }
  });

  it('any: the first branch to complete runs the join; the slow one is cancelled and its HTTP call aborted', async () => {
    const abortedBefore = target.aborted;
    const flowId = await makeFlow(
      alice,
      parallelFlow(
        `    next: {slow: call, fast: quick}
  call: {type: http.request, params: {url: "${target.url}/hold", method: GET}, next: merge}
  quick: {type: delay, params: {ms: 300}, next: merge}`,
        '{wait_for: any}',
      ),
    );
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('completed');
    expect((ex.result as Record<string, unknown>).slow).to.equal(null);
    expect((ex.result as Record<string, unknown>).fast).to.have.property('waited_ms');
    const steps = (await alice.client.executions.getExecutionSteps({ id: ex.id })).data.steps;
    expect(steps.find((s) => s.node_id === 'call')).to.deep.include({ status: 'cancelled' });
    expect(steps.filter((s) => s.node_id === 'merge')).to.have.length(1);
    await eventually(async () => expect(target.aborted).to.be.greaterThan(abortedBefore), {
      timeout: 10_000,
      what: 'the slow branch HTTP call to be aborted',
    });
  });

  it('fail_fast: a failing branch cancels the slow one (HTTP aborted); the join error edge gets every outcome', async () => {
    const abortedBefore = target.aborted;
    const flowId = await makeFlow(
      alice,
      parallelFlow(
        `    next: {slow: call, bad: broken}
  call: {type: http.request, params: {url: "${target.url}/hold", method: GET}, next: merge}
  broken: {type: http.request, params: {url: "${target.url}/boom", method: GET}, next: merge}`,
        '{on_failure: fail_fast}',
        `    next: {error: handled}
  handled: {type: transform, params: {expression: "nodes.merge.output"}}`,
      ),
    );
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('completed');
    const outcomes = ex.result as Record<string, { status: string; error: string | null }>;
    expect(outcomes.bad.status).to.equal('failed');
    expect(outcomes.slow.status).to.equal('cancelled');
    await eventually(async () => expect(target.aborted).to.be.greaterThan(abortedBefore), {
      timeout: 10_000,
      what: 'the slow branch HTTP call to be aborted',
    });
    expect(await joinSteps(ex.id)).to.have.length(1);
  });

  it('fail_fast without an error edge fails the execution with the failed branch named', async () => {
    const flowId = await makeFlow(
      alice,
      parallelFlow(
        `    next: {ok: fine, bad: broken}
  fine: {type: transform, params: {expression: "1"}, next: merge}
  broken: {type: fail, params: {message: "no luck"}}`,
        '{}',
      ),
    );
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('failed');
    expect(ex.error).to.include('"bad" failed').and.include('no luck');
  });

  it('wait_all: collects every outcome, then decides by the rule (n of them)', async () => {
    const def = (n: number) =>
      parallelFlow(
        `    next: {a: one, b: two, c: broken}
  one: {type: delay, params: {ms: 200}, next: one_b}
  one_b: {type: transform, params: {expression: "1"}, next: merge}
  two: {type: transform, params: {expression: "2"}}
  broken: {type: fail, params: {message: "c broke"}}`,
        `{wait_for: n, n: ${n}, on_failure: wait_all}`,
      );
    const met = await runToEnd(alice, await makeFlow(alice, def(2)));
    expect(met.status).to.equal('completed');
    // A branch that ends without reaching the join gives its last node's output.
    expect(met.result).to.deep.equal({ a: 1, b: 2, c: null });
    const notMet = await runToEnd(alice, await makeFlow(alice, def(3)));
    expect(notMet.status).to.equal('failed');
    expect(notMet.error).to.include('"c" failed: c broke');
    const steps = (await alice.client.executions.getExecutionSteps({ id: notMet.id })).data.steps;
    // wait_all let the slow branch finish before deciding.
    expect(steps.find((s) => s.node_id === 'one')).to.deep.include({ status: 'completed' });
  });

  it('refuses at save, with node, path and line: edges between branches, into a branch, waits in a branch, a bad join', async () => {
    const problems = async (definition: string) => {
      const err = await expectError(
        alice.client.flows.createFlow({ flowCreate: { name: `bad-${Math.random()}`, definition } }),
        422,
        'validation_error',
      );
      return err.details!.errors as { node: string; path: string; message: string; line?: number }[];
    };
    const between = await problems(
      parallelFlow(
        `    next: {a: a1, b: b1}
  a1: {type: transform, params: {expression: "1"}, next: b1}
  b1: {type: transform, params: {expression: "2"}, next: merge}`,
        '{}',
      ),
    );
    expect(between[0]).to.deep.include({ node: 'a1', path: 'nodes.a1.next.default' });
    expect(between[0].message).to.include('enters branch "b" of "start"');
    expect(between[0].line).to.be.a('number');

    const waits = await problems(
      parallelFlow(
        `    next: {a: ask}
  ask: {type: approval, params: {}, next: merge}`,
        '{}',
      ),
    );
    expect(waits[0]).to.deep.include({ node: 'ask', path: 'nodes.ask.type' });

    const tooMany = await problems(parallelFlow(`    next: {a: merge}`, '{wait_for: n, n: 2}'));
    expect(tooMany[0]).to.deep.include({ node: 'merge', path: 'nodes.merge.params.n' });

    const notAJoin = await problems(`nodes:
  start: {type: parallel, params: {join: other}, next: {a: other}}
  other: {type: transform, params: {expression: "1"}}
`);
    expect(notAJoin[0]).to.deep.include({ path: 'nodes.start.params.join' });

    const outside = await problems(`entry: start
nodes:
  start: {type: condition, params: {expression: "true"}, next: {true: fork, false: sneak}}
  fork: {type: parallel, params: {join: merge}, next: {a: a1}}
  a1: {type: transform, params: {expression: "1"}, next: merge}
  sneak: {type: transform, params: {expression: "1"}, next: merge}
  merge: {type: join}
`);
    expect(outside.map((p) => p.node)).to.include('sneak');
  });

  it('lists parallel and join in the node-type catalog', async () => {
    const { data } = await alice.client.nodeTypes.listNodeTypes();
    expect(data.node_types.map((t) => t.type)).to.include.members(['parallel', 'join', 'foreach']);
    const join = (await alice.client.nodeTypes.getNodeType({ type: 'join' })).data;
    expect(join.params_schema).to.have.nested.property('properties.wait_for');
  });
});
