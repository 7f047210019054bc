/**
 * Issue 18's rate limits of outbound calls: a node's `rate_limit` defers a step (its task sleeps
 * until its reserved time, and the execution says so), and `http.request` honours a 429's
 * `Retry-After` as a retry under the node's retry policy. The calls go to a real HTTP server on
 * loopback. Times are only checked from below: a call never comes before its reserved time.
 */
import { expect } from 'chai';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';
import { retryAfterMs } from '../../src/engine/rate-limit';

describe('rate limits and Retry-After (issue 18)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  const arrivals: { path: string; at: number; execution: string }[] = [];

  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    for (const path of ['/fast', '/slow', '/custom'])
      target.route(path, (_req, body, res) => {
        arrivals.push({ path, at: Date.now(), execution: JSON.parse(body).execution });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    alice = await makeAccount(server);
  });
  after(async () => {
    await target.close();
    await server.close();
  });

  const callFlow = (path: string, rateLimit: string, extra = '') =>
    makeFlow(
      alice,
      `nodes:
  start:
    type: http.request
    rate_limit: ${rateLimit}
    params:
      url: "${target.url}${path}"
      method: POST
      body: {execution: "{{ execution.id }}"}
${extra}`,
    );

  const run = async (flowId: string) =>
    (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;

  it('spaces the calls of a key at its rate: each deferred step sleeps until its reserved time', async () => {
    const flowId = await callFlow('/fast', '{per_second: 4, key: node}');
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => run(flowId)));
    for (const id of ids) expect((await waitForExecution(alice, id)).status).to.equal('completed');
    const calls = arrivals.filter((a) => a.path === '/fast');
    expect(calls).to.have.length(5);
    const deferred: { id: string; until: number; key: string }[] = [];
    for (const id of ids) {
      const logs = (await alice.client.executions.getExecutionLogs({ id, limit: 100 })).data.logs;
      const line = logs.find((l) => l.message.startsWith('Rate limit of 4 a second'));
      const data = line?.data as { until: string; key: string } | undefined;
      if (data) deferred.push({ id, until: Date.parse(data.until), key: data.key });
    }
    // At most one call (the burst of 1) goes at once; the others were deferred, 250 ms apart.
    expect(deferred.length).to.be.at.least(4);
    expect(deferred[0].key).to.equal(`node:${flowId}/start`);
    const reserved = deferred.map((d) => d.until).sort((a, b) => a - b);
    for (let i = 1; i < reserved.length; i++) expect(reserved[i] - reserved[i - 1]).to.be.at.least(250 - 2);
    // No deferred call came before its time.
    for (const d of deferred) expect(calls.find((c) => c.execution === d.id)!.at).to.be.at.least(d.until - 20);
  });

  it('says why a deferred execution waits: the rate limit, its key and its time', async () => {
    const flowId = await callFlow('/slow', '{per_second: 0.2}');
    const first = await run(flowId);
    const second = await run(flowId);
    // A worker may claim both in one batch and run them side by side: either one may reserve
    // the bucket's call first, and the other is deferred 5 s.
    const { id: deferred, reason } = await eventually(
      async () => {
        for (const id of [first, second]) {
          const { data } = await alice.client.executions.getExecution({ id });
          if (data.waiting_reason?.kind === 'rate_limit') return { id, reason: data.waiting_reason };
        }
        expect.fail('neither execution says it waits for the rate limit');
      },
      { timeout: 20_000, what: 'one of the two executions to be deferred' },
    );
    expect(reason.node_id).to.equal('start');
    expect(reason.rate_limit).to.deep.equal({ key: `host:127.0.0.1:${target.port}`, per_second: 0.2 });
    expect(Date.parse(reason.until!)).to.be.greaterThan(Date.now());
    expect(reason.message).to.include('rate limit');
    expect((await waitForExecution(alice, first)).status).to.equal('completed');
    expect((await waitForExecution(alice, second)).status).to.equal('completed');
    const calls = arrivals.filter((a) => a.path === '/slow');
    expect(calls).to.have.length(2);
    expect(calls.find((c) => c.execution === deferred)!.at).to.be.at.least(Date.parse(reason.until!) - 20);
  });

  it('a key of your own is shared by every node that names it', async () => {
    const flowId = await makeFlow(
      alice,
      `nodes:
  start:
    type: http.request
    rate_limit: {per_second: 2, key: "billing-{{ 'api' }}"}
    params: {url: "${target.url}/custom", method: POST, body: {execution: "{{ execution.id }}"}}
    next: again
  again:
    type: http.request
    rate_limit: {per_second: 2, key: "billing-api"}
    params: {url: "${target.url}/custom", method: POST, body: {execution: "{{ execution.id }}"}}
`,
    );
    const id = await run(flowId);
    expect((await waitForExecution(alice, id)).status).to.equal('completed');
    const times = arrivals.filter((a) => a.path === '/custom').map((a) => a.at);
    expect(times).to.have.length(2);
    expect(times[1] - times[0]).to.be.at.least(500 - 20);
  });

  describe('429 Retry-After', () => {
    let calls = 0;
    before(() => {
      target.route('/busy', (_req, _body, res) => {
        calls++;
        if (calls === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      target.route('/always-busy', (_req, _body, res) => res.writeHead(429, { 'retry-after': '3600' }).end());
    });

    it('retries a 429 under the retry policy, no sooner than Retry-After says', async () => {
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    retry: {max_attempts: 2, backoff_ms: 10}\n    params: {url: "${target.url}/busy"}\n`,
      );
      const started = Date.now();
      const id = await run(flowId);
      const done = await waitForExecution(alice, id);
      expect(done.status).to.equal('completed');
      expect(calls).to.equal(2);
      expect(Date.now() - started).to.be.at.least(1000);
      const logs = (await alice.client.executions.getExecutionLogs({ id, limit: 100 })).data.logs;
      expect(logs.map((l) => l.message)).to.include(
        'Attempt 1 of 2 failed: HTTP request failed with status 429; retrying in 1000 ms',
      );
    });

    it("caps Retry-After at the policy's max_backoff_ms, and fails when the attempts run out", async () => {
      const flowId = await makeFlow(
        alice,
        `nodes:\n  start:\n    type: http.request\n    retry: {max_attempts: 2, backoff_ms: 10, max_backoff_ms: 50}\n    params: {url: "${target.url}/always-busy"}\n`,
      );
      const id = await run(flowId);
      const done = await waitForExecution(alice, id);
      expect(done.status).to.equal('failed');
      expect(done.error).to.equal('HTTP request failed with status 429');
      const logs = (await alice.client.executions.getExecutionLogs({ id, limit: 100 })).data.logs;
      expect(logs.map((l) => l.message)).to.include(
        'Attempt 1 of 2 failed: HTTP request failed with status 429; retrying in 50 ms',
      );
    });

    it('reads Retry-After as seconds or as an HTTP date', () => {
      const now = Date.parse('2026-12-03T10:00:00Z');
      expect(retryAfterMs({ 'Retry-After': '7' }, now)).to.equal(7000);
      expect(retryAfterMs({ 'retry-after': 'Thu, 03 Dec 2026 10:00:30 GMT' }, now)).to.equal(30_000);
      expect(retryAfterMs({ 'retry-after': 'Thu, 03 Dec 2026 09:00:00 GMT' }, now)).to.equal(0);
      expect(retryAfterMs({ 'retry-after': 'soon' }, now)).to.equal(undefined);
      expect(retryAfterMs({}, now)).to.equal(undefined);
    });
  });

  it('refuses a bad rate_limit at save, with its path', async () => {
    const res = await alice.client.flows
      .createFlow({
        flowCreate: {
          name: 'bad-rate',
          definition: `nodes:\n  start:\n    type: http.request\n    rate_limit: {per_second: 0, burst: 0}\n    params: {url: "${target.url}/fast"}\n`,
        },
      })
      .catch((e) => e.response);
    expect(res.status).to.equal(422);
    expect(JSON.stringify(res.data.error.details)).to.include('nodes.start.rate_limit');
  });
});
