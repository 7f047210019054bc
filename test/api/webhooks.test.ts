import crypto from 'node:crypto';
import type { AxiosError } from 'axios';
import { expect } from 'chai';
import { apiClient, expectError, type ApiClient } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const ECHO = 'nodes:\n  start:\n    type: transform\n    params: {expression: "input"}\n';
const RESPONDS =
  'nodes:\n  start:\n    type: transform\n    params: {expression: \'{"response": {"status": 201, "body": {"created": input.body.name}}}\'}\n';
const FAILS = 'nodes:\n  start:\n    type: fail\n    params: {message: nope}\n';
const WAITS =
  'nodes:\n  start:\n    type: approval\n    next: {approved: done}\n  done:\n    type: log\n    params: {message: done}\n';

const hmacHex = (algorithm: string, secret: string, data: string) =>
  crypto.createHmac(algorithm, secret).update(data).digest('hex');

describe('webhooks: inbound calls that start a flow', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  /** A caller with no FlowRunner credentials: the token (and signature) are its only ones. */
  let stranger: ApiClient;
  let echo: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    stranger = apiClient(server.url);
    echo = await makeFlow(alice, ECHO);
  });
  after(async () => {
    await server.close();
  });

  const tokenOf = (url: string | undefined) => url!.replace(/^\/hooks\//, '');
  const status = async (call: Promise<{ status: number }>) => {
    try {
      return (await call).status;
    } catch (err) {
      return (err as AxiosError).response!.status;
    }
  };
  const deliveries = async (flowId: string, id: string) =>
    (await alice.client.webhooks.listWebhookDeliveries({ id: flowId, webhookId: id, limit: 100 })).data.deliveries;

  it('creates a trigger with a secret URL shown once; a call starts the flow with the request as input (202)', async () => {
    const { data: hook, status: created } = await alice.client.webhooks.createWebhook({ id: echo, webhookCreate: {} });
    expect(created).to.equal(201);
    expect(hook.url).to.match(/^\/hooks\/whk_[A-Za-z0-9_-]{32}$/);
    expect(hook.token).to.equal(tokenOf(hook.url));
    expect(hook.verification).to.deep.equal({ scheme: 'none' });
    const { data: again } = await alice.client.webhooks.getWebhook({ id: echo, webhookId: hook.id });
    expect(again).to.not.have.property('token');
    expect(again).to.not.have.property('url');
    expect((await server.db('webhooks').where({ id: hook.id }).first()).token_hash).to.not.include(hook.token!);

    const res = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body: { name: 'ada' } },
      {
        params: { source: 'test' },
        headers: { Authorization: 'Bearer not-for-the-flow', 'X-Custom': 'kept' },
      },
    );
    expect(res.status).to.equal(202);
    expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.execution_id}`);
    const ex = await waitForExecution(alice, res.data.execution_id);
    expect(ex.trigger).to.deep.equal({ type: 'webhook', id: hook.id, scheduled_at: null });
    const input = ex.input as {
      method: string;
      path: string;
      query: object;
      headers: Record<string, string>;
      body: unknown;
    };
    expect(input).to.include({ method: 'POST', path: '/hooks/<token>' });
    expect(input.query).to.deep.equal({ source: 'test' });
    expect(input.body).to.deep.equal({ name: 'ada' });
    expect(input.headers['x-custom']).to.equal('kept');
    expect(input.headers).to.not.have.property('authorization');
    const { data: list } = await alice.client.executions.listExecutions({ limit: 10, triggerId: hook.id });
    expect(list.executions.map((e) => e.id)).to.deep.equal([ex.id]);
    expect(again.last_delivery_at).to.equal(null);
    expect((await alice.client.webhooks.getWebhook({ id: echo, webhookId: hook.id })).data.last_delivery_at).to.equal(
      (await deliveries(echo, hook.id))[0].received_at,
    );
    const [delivery] = await deliveries(echo, hook.id);
    expect(delivery).to.include({
      verification: 'none',
      dedup_hit: false,
      execution_id: ex.id,
      status: 202,
      error: null,
    });
  });

  it('takes form and text bodies too, and refuses other media types (415) and bad JSON (400), logged', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({ id: echo, webhookCreate: {} });
    const form = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body: 'a=1&b=two' },
      {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      },
    );
    expect((await waitForExecution(alice, form.data.execution_id)).input).to.have.deep.property('body', {
      a: '1',
      b: 'two',
    });
    const text = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body: 'plain words' },
      {
        headers: { 'Content-Type': 'text/plain' },
      },
    );
    expect((await waitForExecution(alice, text.data.execution_id)).input).to.have.property('body', 'plain words');
    await expectError(
      stranger.webhooks.receiveWebhook(
        { token: hook.token!, body: 'x' },
        {
          headers: { 'Content-Type': 'application/octet-stream' },
        },
      ),
      415,
      'unsupported_media_type',
    );
    await expectError(
      // Sent as it is: a string, with no transform (axios would quote a string that is not JSON).
      stranger.webhooks.receiveWebhook(
        { token: hook.token!, body: '{"a":' },
        {
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
          transformRequest: [(data: unknown) => data],
        },
      ),
      400,
      'invalid_request',
    );
    expect((await deliveries(echo, hook.id)).map((d) => d.status)).to.deep.equal([400, 415, 202, 202]);
  });

  it('GitHub: X-Hub-Signature-256 over the raw body; a wrong or missing signature is 401 and starts nothing', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({
      id: echo,
      webhookCreate: {
        verification: { scheme: 'github' },
        secret: 'github-shared-secret',
      },
    });
    expect(hook.secret).to.equal('github-shared-secret');
    const body = { action: 'opened', number: 7 };
    const signature = `sha256=${hmacHex('sha256', 'github-shared-secret', JSON.stringify(body))}`;
    const ok = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body },
      {
        headers: { 'X-Hub-Signature-256': signature, 'X-GitHub-Event': 'pull_request' },
      },
    );
    expect(ok.status).to.equal(202);
    const input = (await waitForExecution(alice, ok.data.execution_id)).input as { headers: Record<string, string> };
    expect(input.headers['x-github-event']).to.equal('pull_request');
    expect(input.headers).to.not.have.property('x-hub-signature-256');
    const wrong = `sha256=${hmacHex('sha256', 'another-secret', JSON.stringify(body))}`;
    await expectError(
      stranger.webhooks.receiveWebhook({ token: hook.token!, body }, { headers: { 'X-Hub-Signature-256': wrong } }),
      401,
      'unauthorized',
    );
    await expectError(stranger.webhooks.receiveWebhook({ token: hook.token!, body }), 401, 'unauthorized');
    // The body changed after signing.
    await expectError(
      stranger.webhooks.receiveWebhook(
        { token: hook.token!, body: { ...body, number: 8 } },
        { headers: { 'X-Hub-Signature-256': signature } },
      ),
      401,
      'unauthorized',
    );
    const log = await deliveries(echo, hook.id);
    expect(log.map((d) => [d.verification, d.status, d.execution_id === null])).to.deep.equal([
      ['failed', 401, true],
      ['failed', 401, true],
      ['failed', 401, true],
      ['passed', 202, false],
    ]);
    expect(log[1].error).to.match(/X-Hub-Signature-256/);
    const { data } = await alice.client.executions.listExecutions({ limit: 10, triggerId: hook.id });
    expect(data.total).to.equal(1);
  });

  it('Stripe: a timestamped Stripe-Signature within the tolerance; a stale timestamp or a bad signature is 401', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({
      id: echo,
      webhookCreate: {
        verification: { scheme: 'stripe', tolerance_seconds: 300 },
      },
    });
    expect(hook.secret).to.match(/^whsec_/);
    const body = { type: 'payment_intent.succeeded' };
    const sign = (t: number, secret = hook.secret!) =>
      `t=${t},v1=${hmacHex('sha256', secret, `${t}.${JSON.stringify(body)}`)}`;
    const now = Math.floor(Date.now() / 1000);
    const ok = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body },
      {
        headers: { 'Stripe-Signature': sign(now) },
      },
    );
    expect(ok.status).to.equal(202);
    const stale = await expectError(
      stranger.webhooks.receiveWebhook(
        { token: hook.token!, body },
        {
          headers: { 'Stripe-Signature': sign(now - 1000) },
        },
      ),
      401,
      'unauthorized',
    );
    expect(stale.message).to.match(/300 seconds/);
    await expectError(
      stranger.webhooks.receiveWebhook(
        { token: hook.token!, body },
        {
          headers: { 'Stripe-Signature': sign(now, 'whsec_wrong') },
        },
      ),
      401,
      'unauthorized',
    );
  });

  it('generic: a named header, algorithm, encoding and prefix', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({
      id: echo,
      webhookCreate: {
        verification: {
          scheme: 'generic',
          header: 'X-Signature',
          algorithm: 'sha512',
          encoding: 'base64',
          prefix: 'v1:',
        },
        secret: 'generic-secret',
      },
    });
    const body = { n: 1 };
    const good = `v1:${crypto.createHmac('sha512', 'generic-secret').update(JSON.stringify(body)).digest('base64')}`;
    expect(
      (await stranger.webhooks.receiveWebhook({ token: hook.token!, body }, { headers: { 'X-Signature': good } }))
        .status,
    ).to.equal(202);
    await expectError(
      stranger.webhooks.receiveWebhook({ token: hook.token!, body }, { headers: { 'X-Signature': good.slice(3) } }),
      401,
      'unauthorized',
    );
    await expectError(
      alice.client.webhooks.createWebhook({ id: echo, webhookCreate: { verification: { scheme: 'generic' } } }),
      422,
      'validation_error',
    );
  });

  it('respond on_completion answers the result, or the status and body the result chooses, or 502 when it fails', async () => {
    const { data: plain } = await alice.client.webhooks.createWebhook({
      id: echo,
      webhookCreate: {
        respond: 'on_completion',
      },
    });
    const res = await stranger.webhooks.receiveWebhook({ token: plain.token!, body: { x: 1 } });
    expect(res.status).to.equal(200);
    expect((res.data as unknown as { body: unknown }).body).to.deep.equal({ x: 1 });

    const responds = await makeFlow(alice, RESPONDS);
    const { data: chooser } = await alice.client.webhooks.createWebhook({
      id: responds,
      webhookCreate: {
        respond: 'on_completion',
      },
    });
    const chosen = await stranger.webhooks.receiveWebhook({ token: chooser.token!, body: { name: 'ada' } });
    expect(chosen.status).to.equal(201);
    expect(chosen.data).to.deep.equal({ created: 'ada' });

    const fails = await makeFlow(alice, FAILS);
    const { data: failing } = await alice.client.webhooks.createWebhook({
      id: fails,
      webhookCreate: {
        respond: 'on_completion',
      },
    });
    const error = await expectError(
      stranger.webhooks.receiveWebhook({ token: failing.token!, body: {} }),
      502,
      'execution_failed',
    );
    expect(error.details).to.include({ status: 'failed' });
  });

  it('respond on_completion falls back to 202 with Location when the wait runs out', async () => {
    const waits = await makeFlow(alice, WAITS);
    const { data: hook } = await alice.client.webhooks.createWebhook({
      id: waits,
      webhookCreate: {
        respond: 'on_completion',
        timeout_seconds: 1,
      },
    });
    const res = await stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} });
    expect(res.status).to.equal(202);
    // Not finished: it waits for an approval (or, on a loaded machine, has not reached it yet).
    expect(['queued', 'running', 'waiting']).to.include(res.data.status);
    expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.execution_id}`);
    await alice.client.executions.cancelExecution({ id: res.data.execution_id });
  });

  it('a retried delivery (same delivery id) answers the original execution and starts nothing', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({ id: echo, webhookCreate: {} });
    const first = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body: { n: 1 } },
      { headers: { 'X-GitHub-Delivery': 'd-1' } },
    );
    const retried = await stranger.webhooks.receiveWebhook(
      { token: hook.token!, body: { n: 1 } },
      { headers: { 'X-GitHub-Delivery': 'd-1' } },
    );
    expect(retried.data.execution_id).to.equal(first.data.execution_id);
    const keyed = await Promise.all(
      [1, 2, 3].map(() =>
        stranger.webhooks.receiveWebhook({ token: hook.token!, idempotencyKey: 'key-7', body: { n: 2 } }),
      ),
    );
    expect(new Set(keyed.map((r) => r.data.execution_id)).size).to.equal(1);
    const { data } = await alice.client.executions.listExecutions({ limit: 10, triggerId: hook.id });
    expect(data.total).to.equal(2);
    const log = await deliveries(echo, hook.id);
    expect(log.filter((d) => d.dedup_hit)).to.have.length(3);
    expect(log.find((d) => d.delivery_id === 'd-1' && d.dedup_hit)?.execution_id).to.equal(first.data.execution_id);
  });

  it('refuses a body over 1 MiB (413), a disabled trigger (403), calls beyond the rate limit (429 + Retry-After)', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({
      id: echo,
      webhookCreate: { rate_limit_per_minute: 2 },
    });
    await expectError(
      stranger.webhooks.receiveWebhook({ token: hook.token!, body: { big: 'x'.repeat(1024 * 1024 + 10) } }),
      413,
      'payload_too_large',
    );
    expect(await status(stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} }))).to.equal(202);
    expect(await status(stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} }))).to.equal(202);
    try {
      await stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} });
      expect.fail('a third call in the minute was accepted');
    } catch (err) {
      const res = (err as AxiosError).response!;
      expect(res.status).to.equal(429);
      expect(Number(res.headers['retry-after'])).to.be.within(1, 60);
    }
    await alice.client.webhooks.updateWebhook({
      id: echo,
      webhookId: hook.id,
      webhookUpdate: { enabled: false, rate_limit_per_minute: null },
    });
    await expectError(stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} }), 403, 'forbidden');
    expect((await deliveries(echo, hook.id)).map((d) => d.status)).to.deep.equal([403, 429, 202, 202, 413]);
  });

  it('rotates the URL (the old one is 404), deletes the trigger, and keeps other accounts out (404)', async () => {
    const { data: hook } = await alice.client.webhooks.createWebhook({ id: echo, webhookCreate: {} });
    const { data: rotated } = await alice.client.webhooks.rotateWebhookToken({ id: echo, webhookId: hook.id });
    expect(rotated.token).to.be.a('string').and.not.equal(hook.token);
    await expectError(stranger.webhooks.receiveWebhook({ token: hook.token!, body: {} }), 404, 'not_found');
    expect(await status(stranger.webhooks.receiveWebhook({ token: rotated.token!, body: {} }))).to.equal(202);
    await expectError(bob.client.webhooks.listWebhooks({ id: echo }), 404, 'not_found');
    await expectError(bob.client.webhooks.getWebhook({ id: echo, webhookId: hook.id }), 404, 'not_found');
    await expectError(bob.client.webhooks.createWebhook({ id: echo, webhookCreate: {} }), 404, 'not_found');
    await expectError(
      bob.client.webhooks.updateWebhook({ id: echo, webhookId: hook.id, webhookUpdate: { enabled: false } }),
      404,
      'not_found',
    );
    await expectError(bob.client.webhooks.rotateWebhookToken({ id: echo, webhookId: hook.id }), 404, 'not_found');
    await expectError(bob.client.webhooks.listWebhookDeliveries({ id: echo, webhookId: hook.id }), 404, 'not_found');
    await expectError(bob.client.webhooks.deleteWebhook({ id: echo, webhookId: hook.id }), 404, 'not_found');
    const bobsFlow = await makeFlow(bob, ECHO);
    await expectError(alice.client.webhooks.getWebhook({ id: bobsFlow, webhookId: hook.id }), 404, 'not_found');
    expect((await alice.client.webhooks.listWebhooks({ id: echo })).data.webhooks.map((w) => w.id)).to.include(hook.id);
    await alice.client.webhooks.deleteWebhook({ id: echo, webhookId: hook.id });
    await expectError(stranger.webhooks.receiveWebhook({ token: rotated.token!, body: {} }), 404, 'not_found');
    await expectError(stranger.webhooks.receiveWebhook({ token: 'whk_unknown', body: {} }), 404, 'not_found');
  });
});
