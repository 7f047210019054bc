/**
 * Requests outside the contract, sent as an attacker or a confused client would: methods the spec
 * does not define on its paths, paths it does not define, and HTTP/1.1 that Node's parser refuses.
 * Each is answered in the error format, decided in one place (src/http/route-guard.ts,
 * src/http/malformed-requests.ts), with or without credentials.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { SPEC_JSON_PATH } from '../../src/http/spec';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const spec = JSON.parse(fs.readFileSync(SPEC_JSON_PATH, 'utf8')) as { paths: Record<string, object> };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request(`${base}${path}`, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** Sends bytes as they are and reads until the server closes the connection. */
function sendRaw(base: string, text: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(text));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (received += c));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

/** Splits raw responses read from one connection. */
function parseResponses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

function expectErrorFormat(contentType: string | undefined, body: string, code: string): Record<string, unknown> {
  expect(contentType).to.match(/^application\/json/);
  const parsed = JSON.parse(body) as { error: { code: string; message: string; details: Record<string, unknown> } };
  expect(parsed.error.code, body).to.equal(code);
  expect(parsed.error.message).to.be.a('string').that.has.length.above(0);
  expect(parsed.error).to.have.property('details');
  return parsed.error.details;
}

describe('requests outside the contract', () => {
  let server: TestServer;
  let user: TestAccount;
  before(async () => {
    server = await startTestServer();
    user = await makeAccount(server);
  });
  after(() => server.close());

  describe('a method the spec does not define on one of its paths', () => {
    for (const template of Object.keys(spec.paths)) {
      const path = template.replace(/\{[^}]+\}/g, 'x1');
      // Every template a request path matches answers there (`/executions/package` is also `/executions/{id}`).
      const defined = [
        ...new Set(
          Object.entries(spec.paths)
            .filter(([t]) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
            .flatMap(([, item]) => Object.keys(item).map((m) => m.toUpperCase())),
        ),
      ].sort();
      const undefinedMethods = METHODS.filter((m) => !defined.includes(m));
      it(`${template}: ${undefinedMethods.join(', ')} answer 405 with Allow: ${defined.join(', ')}`, async () => {
        for (const method of undefinedMethods) {
          for (const headers of [{ authorization: `Bearer ${user.token}` }, {}] as Record<string, string>[]) {
            const res = await request(server.url, method, path, headers);
            expect(res.status, `${method} ${path}`).to.equal(405);
            expect(res.headers.allow, `${method} ${path}`).to.equal(defined.join(', '));
            // A HEAD answer has no body, by HTTP's rules.
            if (method !== 'HEAD') {
              expect(expectErrorFormat(res.headers['content-type'], res.body, 'method_not_allowed')).to.deep.equal({
                allow: defined,
              });
            }
          }
        }
      });
    }
  });

  it('unites the methods of a fixed path and a template that both match it', async () => {
    const res = await request(server.url, 'PUT', '/api/v1/executions/package', {
      authorization: `Bearer ${user.token}`,
    });
    expect(res.status).to.equal(405);
    expect(res.headers.allow).to.equal('DELETE, GET, POST');
  });

  it('answers a method Node does not know (its parser refuses it) with the same 405, or 404 off the spec', async () => {
    const [onSpec] = parseResponses(
      await sendRaw(server.url, 'BREW /api/v1/flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    expect(onSpec.status).to.equal(405);
    expect(onSpec.headers.allow).to.equal('GET, POST');
    expectErrorFormat(onSpec.headers['content-type'], onSpec.body, 'method_not_allowed');
    const [offSpec] = parseResponses(await sendRaw(server.url, 'BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(offSpec.status).to.equal(404);
    expectErrorFormat(offSpec.headers['content-type'], offSpec.body, 'not_found');
  });

  it('answers a path the spec does not define with 404, with or without credentials, for any method', async () => {
    for (const path of ['/nope', '/api/v1/flows/x1/nope', '/api/v1//flows', '/ws/executions/x1']) {
      for (const method of ['GET', 'POST', 'PATCH']) {
        for (const headers of [{ authorization: `Bearer ${user.token}` }, {}] as Record<string, string>[]) {
          const res = await request(server.url, method, path, headers);
          expect(res.status, `${method} ${path}`).to.equal(404);
          expectErrorFormat(res.headers['content-type'], res.body, 'not_found');
        }
      }
    }
  });

  describe('a body on an operation that takes none', () => {
    const auth = () => `Authorization: Bearer ${user.token}\r\n`;

    it('is ignored when it is well-formed (chunked or with a length), and the connection goes on', async () => {
      const list = (extra: string) => `GET /api/v1/flows HTTP/1.1\r\nHost: x\r\n${auth()}${extra}`;
      const answers = parseResponses(
        await sendRaw(
          server.url,
          list('Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n') +
            list('Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}') +
            list('Connection: close\r\n\r\n'),
        ),
      );
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200]);
      for (const a of answers) expect(JSON.parse(a.body)).to.have.property('flows');
    });

    for (const [name, framing] of [
      ['a chunked body whose framing is broken', 'Transfer-Encoding: chunked\r\n\r\nhello, not a chunk\r\n\r\n'],
      ['both Content-Length and Transfer-Encoding', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'],
      ['a transfer coding other than chunked', 'Transfer-Encoding: gzip\r\n\r\nhello'],
    ]) {
      it(`answers ${name} with 400 in the error format and closes the connection`, async () => {
        for (const withAuth of [true, false]) {
          const responses = parseResponses(
            await sendRaw(server.url, `GET /api/v1/flows HTTP/1.1\r\nHost: x\r\n${withAuth ? auth() : ''}${framing}`),
          );
          expect(responses, JSON.stringify(responses)).to.have.length(1);
          const [res] = responses;
          expect(res.status).to.equal(400);
          expect(res.headers.connection).to.equal('close');
          const details = expectErrorFormat(res.headers['content-type'], res.body, 'invalid_request');
          expect(details.reason).to.be.a('string').that.has.length.above(0);
        }
      });
    }
  });
});
