/** Attacks by an untrusted flow author: on secrets, outbound credentials, definitions and the engine. */
import { expect } from 'chai';
import { makeAccount, makeFlow, runToEnd, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { json, startTarget, type Target } from '../support/target';

describe('safety: untrusted flows', () => {
  let server: TestServer;
  let target: Target;
  let other: Target;
  let alice: TestAccount;
  before(async () => {
    server = await startTestServer();
    target = await startTarget();
    other = await startTarget();
    alice = await makeAccount(server);
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
      expect(hit, 'the second origin was called').to.exist;
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
});
