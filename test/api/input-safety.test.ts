/**
 * One test per kind of hostile input the fuzzer found answered with a 500 (test/api/fuzz.test.ts
 * covers them across every operation): each is a 4xx in the error format, where it enters.
 */
import axios from 'axios';
import { expect } from 'chai';
import crypto from 'node:crypto';
import { parseConfig } from '../../src/config';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const DEFINITION = 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n';

describe('hostile input', () => {
  let server: TestServer;
  let user: TestAccount;
  let flowId: string;
  let executionId: string;
  before(async () => {
    server = await startTestServer();
    user = await makeAccount(server);
    flowId = await makeFlow(user, DEFINITION);
    executionId = (await user.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } })).data
      .execution_id;
  });
  after(() => server.close());

  const raw = (method: string, path: string, data?: string, headers: Record<string, string> = {}) =>
    axios.request({
      method,
      url: server.url + path,
      data,
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json', ...headers },
      transformRequest: (d: unknown) => d,
      validateStatus: () => true,
    });

  async function expectStatus(
    res: Promise<{ status: number; data: { error?: { code?: string } } }>,
    status: number,
    code: string,
  ) {
    const { status: got, data } = await res;
    expect(got, JSON.stringify(data)).to.equal(status);
    expect(data.error?.code).to.equal(code);
    expect(data.error).to.have.property('message').that.is.a('string');
    expect(data.error).to.have.property('details');
  }

  describe('NUL characters', () => {
    it('in a path id', () => expectStatus(raw('get', `/api/v1/flows/${flowId}%00`), 400, 'invalid_request'));
    it('in a query value', () => expectStatus(raw('get', `/api/v1/executions?flow_id=a%00b`), 400, 'invalid_request'));
    it('in a body string', () =>
      expectStatus(raw('post', '/api/v1/api-keys', '{"name":"a\\u0000b"}'), 400, 'invalid_request'));
    it('in a body key', () =>
      expectStatus(
        raw('put', `/api/v1/executions/${executionId}/values`, '{"values":{"a\\u0000":1}}'),
        400,
        'invalid_request',
      ));
    it('in a YAML definition (an escape in a quoted scalar)', () =>
      expectStatus(
        raw('post', '/api/v1/flows', JSON.stringify({ name: 'n', definition: 'nodes: {"a\\0": {type: log}}' })),
        422,
        'validation_error',
      ));
  });

  it('refuses a lone UTF-16 surrogate in JSON', () =>
    expectStatus(raw('post', '/api/v1/api-keys', '{"name":"a\\ud800"}'), 400, 'invalid_request'));

  it('refuses a YAML alias bomb', () => {
    const bomb =
      'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n' +
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nnodes: {}\n';
    return expectStatus(
      raw('post', '/api/v1/flows', JSON.stringify({ name: 'b', definition: bomb })),
      422,
      'validation_error',
    );
  });

  it('refuses JSON nested deeper than the limit, and YAML nested thousands deep', async () => {
    const n = 5000;
    await expectStatus(
      raw('put', `/api/v1/executions/${executionId}/values`, `{"values":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
      400,
      'invalid_request',
    );
    await expectStatus(
      raw('post', '/api/v1/flows', JSON.stringify({ name: 'd', definition: `nodes: ${'['.repeat(30000)}` })),
      422,
      'validation_error',
    );
  });

  it('refuses integers beyond the stated maximum', async () => {
    await expectStatus(raw('get', '/api/v1/flows?offset=2147483648'), 400, 'invalid_request');
    await expectStatus(raw('get', `/api/v1/flows/${flowId}/versions/99999999999`), 400, 'invalid_request');
    await expectStatus(
      raw('get', `/api/v1/executions/${executionId}/events?since=99999999999999999999`),
      400,
      'invalid_request',
    );
  });

  it('refuses integers not written in decimal digits (1e3, Infinity, 1e308)', async () => {
    for (const v of ['1e3', 'Infinity', '1e308', '0x10', '1.0']) {
      await expectStatus(raw('get', `/api/v1/flows?offset=${v}`), 400, 'invalid_request');
      await expectStatus(raw('get', `/api/v1/executions/${executionId}/events?since=${v}`), 400, 'invalid_request');
    }
    await expectStatus(raw('get', `/api/v1/flows/${flowId}/versions/1e0`), 400, 'invalid_request');
  });

  it('refuses impossible dates and offsets', async () => {
    for (const expires_at of ['2030-02-30T00:00:00Z', '2030-01-01T00:00:00+16:00', '0000-01-01T00:00:00Z']) {
      await expectStatus(
        raw('post', '/api/v1/api-keys', JSON.stringify({ name: 'k', expires_at })),
        400,
        'invalid_request',
      );
    }
    const ok = await raw(
      'post',
      '/api/v1/api-keys',
      JSON.stringify({ name: 'k', expires_at: '2030-01-01T00:00:00+14:00' }),
    );
    expect(ok.status).to.equal(201);
  });

  it('refuses malformed percent-encoding in the path and the query', async () => {
    await expectStatus(raw('get', '/api/v1/flows/%E0%A4%A'), 400, 'invalid_request');
    await expectStatus(raw('get', '/api/v1/flows/%ED%A0%80'), 400, 'invalid_request');
    await expectStatus(raw('get', '/api/v1/executions?flow_id=%'), 400, 'invalid_request');
  });

  it('answers a body that is not JSON with 415, and a missing one with 400', async () => {
    await expectStatus(
      raw('post', '/api/v1/api-keys', 'name=k', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    const res = await axios.post(`${server.url}/api/v1/api-keys`, 'name=k', {
      headers: { authorization: `Bearer ${user.token}`, 'content-type': '' },
      transformRequest: (d: unknown) => d,
      validateStatus: () => true,
    });
    expect(res.status).to.equal(415);
    expect(res.data.error.message).to.equal('The request body must be application/json');
    await expectStatus(raw('post', '/api/v1/api-keys', undefined), 400, 'invalid_request');
  });

  it('reads no body from a stranger (authentication first)', () =>
    expectStatus(raw('post', '/api/v1/api-keys', '{"name": ', { authorization: '' }), 401, 'unauthorized'));

  it('adds listeners to one execution concurrently without a deadlock', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        user.client.listeners.createExecutionListener({
          id: executionId,
          listenerCreate: { url: `http://127.0.0.1:9/hook/${i}` },
        }),
      ),
    );
    expect(results.map((r) => r.status)).to.deep.equal(Array(12).fill(201));
  });

  it('labels unknown paths in /metrics with one shared label', async () => {
    const path = `/no-such-${crypto.randomBytes(6).toString('hex')}`;
    const res = await axios.get(server.url + path, { validateStatus: () => true });
    expect(res.status).to.equal(404);
    const metrics = (await axios.get(`${server.url}/metrics`)).data as string;
    expect(metrics).not.to.contain(path);
    expect(metrics).to.contain('route="unknown"');
    expect(metrics).to.contain('route="/api/v1/flows/{id}"');
  });

  it('believes X-Forwarded-For only as FLOWRUNNER_TRUST_PROXY says', () => {
    expect(parseConfig({}).trustProxy).to.equal(false);
    expect(parseConfig({ FLOWRUNNER_TRUST_PROXY: 'true' }).trustProxy).to.equal(true);
    expect(parseConfig({ FLOWRUNNER_TRUST_PROXY: '1' }).trustProxy).to.equal(1);
    expect(parseConfig({ FLOWRUNNER_TRUST_PROXY: '10.0.0.0/8, loopback' }).trustProxy).to.deep.equal([
      '10.0.0.0/8',
      'loopback',
    ]);
    expect(() => parseConfig({ FLOWRUNNER_TRUST_PROXY: 'everyone' })).to.throw(/FLOWRUNNER_TRUST_PROXY/);
  });
});
