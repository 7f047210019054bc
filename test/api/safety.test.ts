/** Attacks by an untrusted flow author: on secrets, outbound credentials, definitions and the engine. */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { cloneTestDatabase } from '../support/database';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { json, startTarget, type Target } from '../support/target';

describe('safety: untrusted flows', () => {
  let server: TestServer;
  let target: Target;
  let other: Target;
  let alice: TestAccount;
  let bob: TestAccount;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    other = await startTarget();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(async () => {
    await server.close();
    await target.close();
    await other.close();
  });

  describe('outbound HTTP', () => {
    const credentials = '{Authorization: "Bearer abc", Cookie: "sid=1", Proxy-Authorization: "Basic eDp5"}';

    it('drops Authorization, Cookie and Proxy-Authorization when a redirect leaves the origin', async () => {
      target.route('/away', (_req, _body, res) => {
        res.writeHead(302, { location: `${other.url}/landed` }).end();
      });
      other.route('/landed', json(200, { ok: true }));
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/away", headers: ${credentials}}\n`,
      );
      const ex = await runToEnd(alice, flowId);
      expect(ex.status, JSON.stringify(ex.error)).to.equal('completed');
      const hit = other.hits.find((h) => h.path === '/landed')!;
      expect(hit, 'the second origin was called').to.not.equal(undefined);
      expect(hit.headers).to.not.have.any.keys('authorization', 'cookie', 'proxy-authorization');
      const first = target.hits.find((h) => h.path === '/away')!;
      expect(first.headers.authorization).to.equal('Bearer abc');
    });

    it('keeps them on a redirect within the origin', async () => {
      target.route('/here', (_req, _body, res) => {
        res.writeHead(307, { location: '/stayed' }).end();
      });
      target.route('/stayed', json(200, { ok: true }));
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/here", headers: ${credentials}}\n`,
      );
      const ex = await runToEnd(alice, flowId);
      expect(ex.status, JSON.stringify(ex.error)).to.equal('completed');
      const hit = target.hits.find((h) => h.path === '/stayed')!;
      expect(hit.headers).to.include({
        authorization: 'Bearer abc',
        cookie: 'sid=1',
        'proxy-authorization': 'Basic eDp5',
      });
    });

    it('fails cleanly on a response larger than the cap', async () => {
      target.route('/big', (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(64 * 1024));
      });
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/big", max_response_bytes: 1024}\n`,
      );
      const ex = await runToEnd(alice, flowId);
      expect(ex.status).to.equal('failed');
      expect(JSON.stringify(ex.error)).to.match(/larger than 1024 bytes/);
    });
  });

  describe('secrets', () => {
    // Quotes, a slash, a space, an ampersand and a non-ASCII letter: each has an escaped form.
    const SECRET = 'k3y "zeta"/omega ä&x=1';
    const forms = {
      raw: SECRET,
      'JSON-escaped': JSON.stringify(SECRET).slice(1, -1),
      'percent-encoded': encodeURIComponent(SECRET),
      'form-encoded': new URLSearchParams({ k: SECRET }).toString().slice(2),
      'base64 basic auth': Buffer.from(`user:${SECRET}`).toString('base64'),
      // btoa and JSONata's $base64encode take the text as Latin-1.
      'base64 basic auth (Latin-1)': Buffer.from(`user:${SECRET}`, 'latin1').toString('base64'),
    };
    /** Every form of the secret that appears anywhere in a response body (strings looked at one by one). */
    const leaks = (body: unknown): string[] => {
      const strings: string[] = [];
      const walk = (v: unknown) => {
        if (typeof v === 'string') strings.push(v);
        else if (v && typeof v === 'object')
          for (const [k, x] of Object.entries(v)) {
            strings.push(k);
            walk(x);
          }
      };
      walk(body);
      return Object.entries(forms)
        .filter(([, f]) => strings.some((s) => s.includes(f)))
        .map(([name]) => name);
    };

    it('stays masked in every form through set, transform and templates, for the owner and a shared account', async () => {
      target.route('/echo', json(200, { ok: true }));
      await alice.client.secrets.putSecret({
        accountId: alice.account.id,
        secretWrite: { key: 'LEAK', value: SECRET },
      });
      const derive =
        "{'raw': secrets.LEAK, 'url': $encodeUrlComponent(secrets.LEAK), 'json': $string({'k': secrets.LEAK}), 'basic': 'Basic ' & $base64encode('user:' & secrets.LEAK)}";
      const flowId = await makeFlow(
        alice,
        `nodes:
  start:
    type: set
    params: {values: {stolen: "{{ secrets.LEAK }}"}}
    next: derive
  derive:
    type: transform
    params: {expression: "${derive}"}
    next: keep
  keep:
    type: set
    params: {values: {derived: "{{ nodes.derive.output }}", basic: "{{ nodes.derive.output.basic }}"}}
    next: call
  call:
    type: http.request
    params: {url: "${target.url}/echo", query: {k: "{{ secrets.LEAK }}"}, headers: {Authorization: "{{ nodes.derive.output.basic }}"}}
    next: say
  say:
    type: log
    params: {message: "u={{ nodes.derive.output.url }} j={{ nodes.derive.output.json }} b={{ nodes.derive.output.basic }}"}
    next: ask
  ask:
    type: input
    params: {outcomes: [{name: ok}]}
    next: {ok: finish}
  finish:
    type: transform
    params: {expression: "nodes.derive.output"}
`,
      );
      const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
      await waitForExecution(alice, id, ['waiting', 'failed']);
      // The run did use the real secret.
      const call = target.hits.find((h) => h.path.startsWith('/echo'))!;
      expect(call.headers.authorization).to.equal(`Basic ${forms['base64 basic auth (Latin-1)']}`);
      await alice.client.sharing.shareExecution({ id, shareCreate: { account_id: bob.account.id } });

      const views = async (who: TestAccount) => ({
        execution: (await who.client.executions.getExecution({ id })).data,
        values: (await who.client.hitl.getExecutionValues({ id })).data,
        steps: (await who.client.executions.getExecutionSteps({ id, limit: 100 })).data,
        logs: (await who.client.executions.getExecutionLogs({ id, limit: 100 })).data,
        events: (await who.client.executions.getExecutionEvents({ id, since: 0, limit: 1000 })).data,
        run: (await who.client.runs.getRun({ runId: id })).data,
      });
      for (const who of [alice, bob]) {
        const seen = await views(who);
        expect(seen.execution.status).to.equal('waiting');
        expect(leaks(seen), JSON.stringify(seen.values)).to.deep.equal([]);
        // Masked, not dropped: the values are there.
        expect(seen.values.values).to.include({ stolen: '***', basic: 'Basic ***' });
        // The run package, exported by the owner and by the account it is shared with.
        const pkg = (await who.client.packages.exportExecution({ id })).data;
        expect(leaks(pkg), JSON.stringify(pkg.values)).to.deep.equal([]);
        expect(pkg.values).to.include({ stolen: '***', basic: 'Basic ***' });
      }

      await alice.client.hitl.signalExecution({ id, signal: { node_id: 'ask', outcome: 'ok', values: {} } });
      const ex = await waitForExecution(alice, id);
      expect(ex.status, JSON.stringify(ex.error)).to.equal('completed');
      for (const who of [alice, bob]) {
        expect(leaks(await views(who))).to.deep.equal([]);
        expect(leaks((await who.client.packages.exportExecution({ id })).data)).to.deep.equal([]);
      }
      expect(leaks((await alice.client.runs.listRuns()).data)).to.deep.equal([]);
      expect(leaks((await alice.client.executions.listExecutions()).data)).to.deep.equal([]);
    });
  });

  describe('definitions', () => {
    const refused = async (definition: string) => {
      const err = await expectError(
        alice.client.flows.createFlow({ flowCreate: { name: 'proto', definition } }),
        422,
        'validation_error',
      );
      return err.details!.errors as { node: string | null; path: string; message: string }[];
    };

    for (const name of ['__proto__', 'constructor', 'toString']) {
      it(`refuses "${name}" as an edge target, naming the node`, async () => {
        const errors = await refused(
          `nodes:\n  start:\n    type: log\n    params: {message: hi}\n    next: {default: ${name}}\n`,
        );
        expect(
          errors.find((e) => e.path === 'nodes.start.next.default'),
          JSON.stringify(errors),
        ).to.include({
          node: 'start',
        });
      });

      it(`refuses "${name}" as a node id, naming it`, async () => {
        const errors = await refused(
          `nodes:\n  start:\n    type: log\n    params: {message: hi}\n    next: ${name}\n  ${name}:\n    type: log\n    params: {message: there}\n`,
        );
        expect(
          errors.find((e) => e.node === name),
          JSON.stringify(errors),
        ).to.deep.include({ path: `nodes.${name}`, message: `"${name}" is a reserved name and cannot be a node id` });
      });
    }

    it('a switch case named constructor without an edge ends at the switch instead of crashing', async () => {
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: switch\n    params: {cases: [{name: constructor, when: "true"}, {name: toString, when: "true"}]}\n`,
      );
      const ex = await runToEnd(alice, flowId);
      expect(ex.status, JSON.stringify(ex.error)).to.equal('completed');
      expect(ex.result).to.deep.equal({ case: 'constructor' });
    });
  });

  describe('delay', () => {
    const DAY = 86_400_000;

    it('refuses 400 days from a template, as it refuses the literal', async () => {
      const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: delay\n    params: {ms: "{{ input.ms }}"}\n');
      const ex = await runToEnd(alice, flowId, { ms: 400 * DAY });
      expect(ex.status).to.equal('failed');
      expect(ex.error).to.match(/longer than the limit of 30 days/);
    });

    it('refuses until 400 days ahead, literal or from a template', async () => {
      const until = new Date(Date.now() + 400 * DAY).toISOString();
      for (const param of [`"${until}"`, '"{{ input.until }}"']) {
        const flowId = await makeFlow(alice, `nodes:\n  start:\n    type: delay\n    params: {until: ${param}}\n`);
        const ex = await runToEnd(alice, flowId, { until });
        expect(ex.status, param).to.equal('failed');
        expect(ex.error, param).to.match(/more than 30 days ahead/);
      }
    });
  });

  describe('a task the engine fails on', () => {
    it('ends its execution failed with internal_error after a bounded number of attempts', async () => {
      // A database of its own with a short lease: the failed step runs again once the lease expires.
      const database = await cloneTestDatabase('poison');
      const short = await startTestServer({ FLOWRUNNER_LEASE_MS: '1000' }, database.url);
      try {
        const owner = await makeAccount(short);
        // PostgreSQL's jsonb refuses a NUL character: the step's result can never be stored.
        const flowId = await makeFlow(
          owner,
          `nodes:\n  start:\n    type: transform\n    params: {expression: '"x\\u0000y"'}\n    next: after\n  after:\n    type: log\n    params: {message: never}\n`,
        );
        const ex = await runToEnd(owner, flowId);
        expect(ex).to.include({ status: 'failed', error: 'internal_error' });
        const steps = (await owner.client.executions.getExecutionSteps({ id: ex.id })).data.steps;
        expect(steps.map((s) => [s.node_id, s.status, s.error])).to.deep.equal([['start', 'failed', 'internal_error']]);
        const events = (await owner.client.executions.getExecutionEvents({ id: ex.id })).data.events;
        expect(events[events.length - 1]).to.include({ type: 'execution_failed', error: 'internal_error' });
        expect(await short.db('tasks').where({ execution_id: ex.id })).to.have.length(0);
      } finally {
        await short.close();
        await database.drop();
      }
    });
  });
});
