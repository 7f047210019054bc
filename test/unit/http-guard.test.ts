import { expect } from 'chai';
import { HttpGuard, OutboundHttpError, type OutboundRequest } from '../../src/engine/http-guard';
import { json, startTarget, type Target } from '../support/target';

describe('outbound HTTP guard', () => {
  let target: Target;
  const guards: HttpGuard[] = [];
  const guard = (allow: string[] = []) => {
    const g = new HttpGuard(allow);
    guards.push(g);
    return g;
  };
  before(async () => {
    target = await startTarget();
    target.route('/ok', json(200, { ok: true }));
    target.route('/to-loopback', (_req, _b, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/ok` }).end(),
    );
    target.route('/loop', (_req, _b, res) => res.writeHead(302, { location: '/loop' }).end());
    target.route('/big', (_req, _b, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(5000)));
  });
  after(async () => {
    for (const g of guards) g.close();
    await target.close();
  });

  const get = (g: HttpGuard, url: string, extra: Partial<OutboundRequest> = {}) =>
    g.request({ method: 'GET', url, timeoutMs: 2000, maxResponseBytes: 1 << 20, ...extra });

  async function refused(g: HttpGuard, url: string): Promise<OutboundHttpError> {
    try {
      await get(g, url);
    } catch (err) {
      expect(err).to.be.instanceOf(OutboundHttpError);
      return err as OutboundHttpError;
    }
    return expect.fail(`${url} was not refused`);
  }

  // Every notation of loopback, private, link-local, metadata, unique-local and unspecified
  // addresses. Literal addresses are refused before any connection is attempted.
  const forms = (port: number) => [
    `http://127.0.0.1:${port}/ok`,
    `http://localhost:${port}/ok`,
    `http://127.1:${port}/ok`,
    `http://2130706433:${port}/ok`,
    `http://0x7f000001:${port}/ok`,
    `http://0177.0.0.1:${port}/ok`,
    `http://[::1]:${port}/ok`,
    `http://[::ffff:127.0.0.1]:${port}/ok`,
    `http://[::ffff:7f00:1]:${port}/ok`,
    `http://0.0.0.0:${port}/ok`,
    `http://[::]:${port}/ok`,
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://100.64.0.1/',
  ];

  it('refuses every form of a non-public address, saying why', async () => {
    const g = guard();
    for (const url of forms(target.port)) {
      const err = await refused(g, url);
      expect(err.message, url).to.match(/refused: it resolves to a loopback, private, link-local or reserved address/);
      expect(err.message).to.contain('FLOWRUNNER_HTTP_ALLOW');
      expect(err.retryable).to.equal(false);
    }
    expect(target.hits.length).to.equal(0);
  });

  it('refuses a redirect to a loopback address, on any hop', async () => {
    const g = guard(['localhost']);
    expect((await get(g, `http://localhost:${target.port}/ok`)).status_code).to.equal(200);
    const err = await refused(g, `http://localhost:${target.port}/to-loopback`);
    expect(err.message).to.contain('127.0.0.1');
  });

  it('lets the allow-list permit a host, an address or a network', async () => {
    expect((await get(guard(['127.0.0.1']), `http://127.0.0.1:${target.port}/ok`)).body).to.deep.equal({ ok: true });
    expect((await get(guard(['127.0.0.0/8']), `http://127.0.0.1:${target.port}/to-loopback`)).body).to.deep.equal({
      ok: true,
    });
    expect((await get(guard(['localhost']), `http://localhost:${target.port}/ok`)).status_code).to.equal(200);
    await refused(guard(['127.0.0.1']), 'http://10.0.0.1/');
  });

  it('stops after 5 redirects, caps the response size, and takes only http(s)', async () => {
    const g = guard(['127.0.0.1']);
    expect((await refused(g, `http://127.0.0.1:${target.port}/loop`)).message).to.contain('too many redirects');
    const big = await get(g, `http://127.0.0.1:${target.port}/big`, { maxResponseBytes: 1000 }).catch((e) => e);
    expect(big).to.be.instanceOf(OutboundHttpError);
    expect(big.message).to.contain('larger than 1000 bytes');
    expect((await refused(g, 'file:///etc/passwd')).message).to.contain('only http and https');
    expect((await refused(g, 'not a url')).message).to.contain('not a valid URL');
  });
});
