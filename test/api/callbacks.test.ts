/** 000's callbacks: a callback node sends a one-time URL to a real service and waits for its call. */
import axios from 'axios';
import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

describe('callbacks (000)', () => {
  let server: TestServer;
  let target: Target;
  let alice: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    target.route('/notify', (_req, _body, res) => res.writeHead(204).end());
    alice = await makeAccount(server);
    flowId = await makeFlow(
      alice,
      `nodes:\n  start:\n    type: callback\n    params: {notify_url: "${target.url}/notify", outcomes: [rejected]}\n    next: {default: done, rejected: no}\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.approved"}\n  no:\n    type: transform\n    params: {expression: "'rejected'"}\n`,
    );
  });
  after(async () => {
    await target.close();
    await server.close();
  });

  /** Starts the flow and returns the callback URL the service was sent. */
  const startAndGetUrl = async () => {
    const before = target.hits.length;
    const id = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} })).data.execution_id;
    const hit = await eventually(
      async () => {
        const h = target.hits.slice(before).find((x) => x.path === '/notify' && JSON.parse(x.body).execution_id === id);
        if (!h) throw new Error('not notified yet');
        return h;
      },
      { timeout: 20_000, what: 'the notify call' },
    );
    const waiting = await waitForExecution(alice, id, ['waiting']);
    expect(waiting.waiting_for).to.include({ kind: 'callback' });
    expect(waiting.waiting_for).not.to.have.property('callback_hash');
    return { id, url: JSON.parse(hit.body).callback_url as string };
  };

  it('resumes with the outcome and output of the call, once: a second call is 409', async () => {
    const { id, url } = await startAndGetUrl();
    expect(url).to.match(/^\/api\/v1\/callbacks\/cb_[A-Za-z0-9_-]{43}$/);
    const token = url.split('/').pop()!;
    // No credentials: the token is the only one.
    const anonymous = apiClient(server.url);
    const res = await anonymous.events.callCallback({ token, callbackCall: { output: { approved: true } } });
    expect(res.status).to.equal(200);
    expect((await waitForExecution(alice, id)).result).to.equal(true);
    await expectError(anonymous.events.callCallback({ token, callbackCall: {} }), 409, 'conflict');
    await expectError(anonymous.events.callCallback({ token: `${token}x`, callbackCall: {} }), 404, 'not_found');
    // Only the hash is stored.
    const stored = JSON.stringify(await server.db('used_callbacks').select('*'));
    expect(stored).not.to.include(token);
  });

  it('follows the outcome the call names, and refuses one the node does not have (422, still waiting)', async () => {
    const { id, url } = await startAndGetUrl();
    const token = url.split('/').pop()!;
    const err = await expectError(
      apiClient(server.url).events.callCallback({ token, callbackCall: { outcome: 'maybe' } }),
      422,
      'validation_error',
    );
    expect(err.details?.field).to.equal('outcome');
    const res = await axios.post(`${server.url}${url}`, { outcome: 'rejected' });
    expect(res.status).to.equal(200);
    expect((await waitForExecution(alice, id)).result).to.equal('rejected');
  });

  it('exports a waiting callback without its token hash; the import asks notify_url again with a URL of its own', async () => {
    const { id, url } = await startAndGetUrl();
    const exported = (await alice.client.packages.exportExecution({ id })).data;
    expect(exported.status).to.equal('waiting');
    expect(exported.waiting_for).to.include({ kind: 'callback', node_id: 'start' });
    expect(exported.waiting_for).not.to.have.property('callback_hash');
    const token = url.split('/').pop()!;
    const hash = (await server.db('executions').where({ id }).first()).waiting_for.callback_hash as string;
    expect(JSON.stringify(exported)).not.to.include(hash);

    const before = target.hits.length;
    const imported = (await alice.client.packages.importExecution({ executionPackage: exported })).data;
    const hit = await eventually(
      async () => {
        const h = target.hits
          .slice(before)
          .find((x) => x.path === '/notify' && JSON.parse(x.body).execution_id === imported.execution_id);
        if (!h) throw new Error('not notified yet');
        return h;
      },
      { timeout: 20_000, what: 'the imported execution to notify' },
    );
    const newUrl = JSON.parse(hit.body).callback_url as string;
    expect(newUrl).not.to.equal(url);
    expect((await waitForExecution(alice, imported.execution_id, ['waiting'])).waiting_for).to.include({
      kind: 'callback',
    });
    // Each URL answers its own execution.
    await axios.post(`${server.url}${newUrl}`, { output: { approved: 'imported' } });
    expect((await waitForExecution(alice, imported.execution_id)).result).to.equal('imported');
    expect((await alice.client.executions.getExecution({ id })).data.status).to.equal('waiting');
    await apiClient(server.url).events.callCallback({ token, callbackCall: { output: { approved: 'original' } } });
    expect((await waitForExecution(alice, id)).result).to.equal('original');
  });

  it('rate limits the callback URL per token and per client address: 429 with Retry-After', async () => {
    const limited = await startTestServer({
      FLOWRUNNER_CALLBACK_RATE_PER_TOKEN: '3',
      FLOWRUNNER_CALLBACK_RATE_PER_IP: '5',
    });
    try {
      // The file's other tests called from this address too (same database): start from zero.
      await limited.db('callback_rate').delete();
      const anonymous = apiClient(limited.url);
      // Per token: three calls a minute, unknown tokens too (so tokens cannot be guessed at speed).
      for (let i = 0; i < 3; i++)
        await expectError(anonymous.events.callCallback({ token: 'cb_guess', callbackCall: {} }), 404, 'not_found');
      const res = await axios.post(`${limited.url}/api/v1/callbacks/cb_guess`, {}, { validateStatus: () => true });
      expect(res.status).to.equal(429);
      expect(res.data.error.code).to.equal('rate_limited');
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).to.be.within(1, 60);
      expect(res.data.error.details.retry_after).to.equal(retryAfter);
      expect(res.data.error.message).to.contain('for this callback URL');
      // Per address: the refused call counted too (four); one more reaches the limit of five.
      await expectError(anonymous.events.callCallback({ token: 'cb_a', callbackCall: {} }), 404, 'not_found');
      const byAddress = await expectError(
        anonymous.events.callCallback({ token: 'cb_c', callbackCall: {} }),
        429,
        'rate_limited',
      );
      expect(byAddress.message).to.contain('from this address');
      // Only hashes of tokens are kept.
      const keys = (await limited.db('callback_rate').select('key')).map((r: { key: string }) => r.key);
      expect(keys.join(' ')).not.to.contain('cb_guess');
    } finally {
      await limited.close();
    }
  });

  it('an imported package cannot bring a callback hash of its own', async () => {
    const { id } = await startAndGetUrl();
    const exported = (await alice.client.packages.exportExecution({ id })).data;
    const forged = { ...exported, waiting_for: { ...exported.waiting_for!, callback_hash: 'a'.repeat(64) } };
    await expectError(
      alice.client.packages.importExecution({ executionPackage: forged as typeof exported }),
      400,
      'invalid_request',
    );
  });
});
