/**
 * Untrusted flows cannot hurt the server. Each test is an attack a hostile account can write in a
 * flow, and checks that it fails (or is harmless) on its own while everything else goes on.
 */
import axios from 'axios';
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const TAIL = '( $f := function($x){ $f($x) }; $f(1) )';
const NON_TAIL = '( $f := function($x){ 1 + $f($x) }; $f(1) )';
const EVIL = 'a'.repeat(32) + '!';
const FINAL = ['completed', 'failed', 'cancelled'];

describe('untrusted flows cannot hurt the server', () => {
  let server: TestServer;
  let mallory: TestAccount;
  let bob: TestAccount;
  before(async () => {
    // A depth limit well below what the time limit allows, so the recursion meets it first even
    // on a slow machine (the default, 10000, takes a few hundred ms to reach; on a machine whose
    // two cores are shared by many processes, 2000 has taken longer than the default 1 s).
    server = await startTestServer({
      FLOWRUNNER_EXPRESSION_MAX_DEPTH: '2000',
      FLOWRUNNER_EXPRESSION_TIMEOUT_MS: '5000',
    });
    mallory = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(() => server.close());

  const healthz = async () => (await axios.get(`${server.url}/healthz`)).data as unknown;

  /** Polls an execution until `until` holds; fails the test past the deadline. */
  async function waitFor(
    owner: TestAccount,
    id: string,
    until: (status: string) => boolean = (s) => FINAL.includes(s),
    deadlineMs = 20_000,
  ) {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const { data } = await owner.client.executions.getExecution({ id });
      if (until(data.status)) return data;
      if (Date.now() > end) expect.fail(`execution ${id} is still ${data.status} after ${deadlineMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function start(owner: TestAccount, flowId: string, input: Record<string, unknown> = {}) {
    return (await owner.client.executions.runFlow({ id: flowId, runFlowRequest: { input } })).data.execution_id;
  }

  it("infinite tail recursion fails its step with expression_limit; /healthz and another account's execution are answered meanwhile", async () => {
    const attack = await makeFlow(
      mallory,
      `nodes:
  start: {type: log, params: {message: "about to loop"}, next: loop}
  loop:
    type: transform
    params: {expression: "${TAIL}"}
    retry: {max_attempts: 3, backoff_ms: 1}
`,
    );
    const bystander = await makeFlow(
      bob,
      `nodes:\n  start: {type: transform, params: {expression: "{'n': input.n}"}}\n`,
    );
    // Two at once: every sandbox process (2 by default) is busy with a loop.
    const attacks = [await start(mallory, attack), await start(mallory, attack)];
    for (const id of attacks) await waitFor(mallory, id, (s) => s !== 'queued');

    expect(await healthz()).to.deep.equal({ status: 'ok' });
    const other = await waitFor(bob, await start(bob, bystander, { n: 7 }));
    expect(other).to.deep.include({ status: 'completed', result: { n: 7 } });

    for (const id of attacks) {
      const ex = await waitFor(mallory, id);
      expect(ex.status).to.equal('failed');
      expect(ex.error).to.equal(
        `expression_limit: the expression in node "loop" ran longer than the time limit of 5000 ms: ${TAIL}`,
      );
      // A limit is the flow's own doing: no retry, although the node allows three attempts.
      const steps = (await mallory.client.executions.getExecutionSteps({ id })).data.steps;
      expect(steps.filter((s) => s.node_id === 'loop').map((s) => [s.attempt, s.status])).to.deep.equal([
        [1, 'failed'],
      ]);
      const logs = (await mallory.client.executions.getExecutionLogs({ id, level: 'error' })).data.logs;
      expect(logs[0].data).to.deep.equal({
        code: 'expression_limit',
        limit: 'time',
        node_id: 'loop',
        expression: TAIL,
      });
    }
  });

  it('non-tail recursion fails its step at the depth limit, the error edge catches it, and the process survives', async () => {
    const caught = await makeFlow(
      mallory,
      `nodes:
  start:
    type: transform
    params: {expression: "${NON_TAIL}"}
    next: {error: handled}
  handled: {type: transform, params: {expression: "nodes.start.error"}}
`,
    );
    const uncaught = await makeFlow(
      mallory,
      `nodes:\n  start: {type: condition, params: {expression: "${NON_TAIL}"}}\n`,
    );
    const [a, b] = [await start(mallory, caught), await start(mallory, uncaught)];
    const handled = await waitFor(mallory, a);
    expect(handled.status).to.equal('completed');
    expect(handled.result, String(handled.result)).to.match(
      /^expression_limit: the expression in node "start" went deeper than the depth limit of 2000 nested evaluations/,
    );
    const failed = await waitFor(mallory, b);
    expect(failed.status).to.equal('failed');
    expect(failed.error).to.match(/^expression_limit: the expression in node "start" went deeper than the depth limit/);

    expect(await healthz()).to.deep.equal({ status: 'ok' });
    const after = await makeFlow(bob, `nodes:\n  start: {type: transform, params: {expression: "1 + 1"}}\n`);
    expect(await waitFor(bob, await start(bob, after))).to.deep.include({ status: 'completed', result: 2 });
  });

  it('a template that loops fails the step with expression_limit naming the template', async () => {
    const flowId = await makeFlow(
      mallory,
      `nodes:\n  start: {type: log, params: {message: "x {{ input.n }} {{ ${TAIL} }}"}}\n`,
    );
    const ex = await waitFor(mallory, await start(mallory, flowId, { n: 1 }));
    expect(ex.status).to.equal('failed');
    expect(ex.error).to.equal(
      `expression_limit: a template of the params in node "start" ran longer than the time limit of 5000 ms: ${TAIL}`,
    );
  });

  it("a catastrophic pattern in a flow's inputs schema answers at once, and /healthz answers during it", async () => {
    const flowId = await makeFlow(
      mallory,
      `inputs:
  type: object
  required: [s]
  properties: {s: {type: string, pattern: "^(a+)+$"}}
nodes:
  start: {type: transform, params: {expression: "input.s"}}
`,
    );
    const [refused, health] = await Promise.all([
      expectError(
        mallory.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { s: EVIL } } }),
        422,
        'validation_error',
      ),
      healthz(),
    ]);
    expect(refused.details).to.include({ field: 'input.s' });
    expect(health).to.deep.equal({ status: 'ok' });
    expect(await waitFor(mallory, await start(mallory, flowId, { s: 'aaaa' }))).to.include({ status: 'completed' });
  });

  it("a catastrophic pattern in an input node's values_schema answers at once", async () => {
    const flowId = await makeFlow(
      mallory,
      `nodes:
  ask:
    type: input
    params:
      outcomes: [{name: ok}]
      values_schema: {type: object, properties: {s: {type: string, pattern: "^(a+)+$"}}}
`,
    );
    const id = await start(mallory, flowId);
    await waitFor(mallory, id, (s) => s === 'waiting');
    const [refused, health] = await Promise.all([
      expectError(
        mallory.client.hitl.signalExecution({ id, signal: { node_id: 'ask', outcome: 'ok', values: { s: EVIL } } }),
        422,
        'validation_error',
      ),
      healthz(),
    ]);
    expect(refused.details).to.include({ field: 'values.s' });
    expect(health).to.deep.equal({ status: 'ok' });
  });

  it('a pattern the linear-time engine cannot run is refused at save with 422, naming where it is', async () => {
    const err = await expectError(
      mallory.client.flows.createFlow({
        flowCreate: {
          name: 'backreference',
          definition: `inputs:
  type: object
  properties: {s: {type: string, pattern: "^(a+)\\\\1$"}}
nodes:
  start: {type: transform, params: {expression: "$match(input.s, /(?=a)a/)"}}
`,
        },
      }),
      422,
      'validation_error',
    );
    const errors = err.details!.errors as { path: string; message: string }[];
    expect(errors.map((e) => e.path)).to.deep.equal(['nodes.start.params.expression', 'inputs.properties.s.pattern']);
    expect(errors[0].message).to.match(/lookahead/);
    expect(errors[1].message).to.match(/\/\^\(a\+\)\\1\$\/ cannot run on the linear-time regex engine: backreferences/);
  });

  it('$match with a catastrophic regex runs in linear time: the step completes, and /healthz answers during it', async () => {
    const flowId = await makeFlow(
      mallory,
      `nodes:\n  start: {type: transform, params: {expression: "{'matched': $exists($match(input.s, /(a+)+$/))}"}}\n`,
    );
    const id = await start(mallory, flowId, { s: EVIL });
    expect(await healthz()).to.deep.equal({ status: 'ok' });
    expect(await waitFor(mallory, id)).to.deep.include({ status: 'completed', result: { matched: false } });
    const ok = await waitFor(mallory, await start(mallory, flowId, { s: 'aaa' }));
    expect(ok.result).to.deep.equal({ matched: true });
  });

  it("the same $id in two accounts saves and validates independently, and a $ref to another account's schema does not resolve", async () => {
    const schema = (type: string) =>
      `inputs:
  $id: "https://schemas.example.com/order"
  type: object
  required: [amount]
  properties: {amount: {type: ${type}}}
nodes:
  start: {type: transform, params: {expression: "input.amount"}}
`;
    const mine = await makeFlow(mallory, schema('string'));
    const theirs = await makeFlow(bob, schema('number'));
    // Within one account too: every flow (and version) compiles its schema on its own.
    const again = await makeFlow(bob, schema('integer'));

    expect(await waitFor(mallory, await start(mallory, mine, { amount: 'ten' }))).to.include({ status: 'completed' });
    await expectError(
      mallory.client.executions.runFlow({ id: mine, runFlowRequest: { input: { amount: 10 } } }),
      422,
      'validation_error',
    );
    expect(await waitFor(bob, await start(bob, theirs, { amount: 10.5 }))).to.include({ status: 'completed' });
    await expectError(
      bob.client.executions.runFlow({ id: theirs, runFlowRequest: { input: { amount: 'ten' } } }),
      422,
      'validation_error',
    );
    await expectError(
      bob.client.executions.runFlow({ id: again, runFlowRequest: { input: { amount: 10.5 } } }),
      422,
      'validation_error',
    );

    const err = await expectError(
      bob.client.flows.createFlow({
        flowCreate: {
          name: 'borrows a schema',
          definition: `inputs:
  type: object
  properties: {order: {$ref: "https://schemas.example.com/order"}}
nodes:
  start: {type: transform, params: {expression: "input"}}
`,
        },
      }),
      422,
      'validation_error',
    );
    const errors = err.details!.errors as { path: string; message: string }[];
    expect(errors).to.have.length(1);
    expect(errors[0].path).to.equal('inputs');
    expect(errors[0].message).to.match(/can't resolve reference https:\/\/schemas.example.com\/order/);
  });
});
