/**
 * Connections: the resource (masked, per organization, cursor pages), and http.request using them —
 * OAuth2 client credentials against a real OpenID provider on loopback, with a real target that
 * verifies the bearer token against the provider's key set.
 */
import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Connection } from '../../generated/client/index';
import { expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, runToEnd, type TestAccount } from '../support/factories';
import {
  API_AUDIENCE,
  SHORT_LIVED_RESOURCE,
  startIdentityProvider,
  type TestIdentityProvider,
} from '../support/oidc-provider';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

const API_KEY = 'ak_live_0123456789abcdef';
const PASSWORD = 'correct-horse-battery-staple';
const BEARER = 'static-bearer-token-0123456789';

describe('connections', () => {
  let server: TestServer;
  let idp: TestIdentityProvider;
  let target: Target;
  let alice: TestAccount;
  let bob: TestAccount;
  let admin: TestAccount;
  let clientId: string;
  /** What the protected route saw: each bearer token, and how many 401s it answered. */
  const seen: { tokens: string[]; unauthorized: number; rejected: Set<string> } = {
    tokens: [],
    unauthorized: 0,
    rejected: new Set(),
  };

  before(async () => {
    idp = await startIdentityProvider();
    clientId = idp.addPerson({ email: 'reports@example.com' });
    target = await startTarget();
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
    target.route('/protected', (req, _body, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      jwtVerify(token, jwks, { issuer: idp.issuer, audience: API_AUDIENCE })
        .then(() => {
          if (seen.rejected.has(token)) throw new Error('rejected by the test');
          seen.tokens.push(token);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, token }));
        })
        .catch(() => {
          seen.unauthorized++;
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
        });
    });
    target.route('/echo', (req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          authorization: req.headers.authorization ?? null,
          key: req.headers['x-api-key'] ?? null,
          url: req.url,
        }),
      );
    });
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    admin = await makeAccount(server, { role: 'admin' });
  });
  after(async () => {
    await server.close();
    await target.close();
    await idp.close();
  });

  const callFlow = (path: string, connection: string) =>
    `nodes:\n  call:\n    type: http.request\n    params:\n      url: "${target.url}${path}"\n      connection: ${connection}\n`;

  async function oauth(owner: TestAccount, name: string, extra: Record<string, unknown> = {}): Promise<Connection> {
    return (
      await owner.client.connections.createConnection({
        connectionCreate: {
          name,
          type: 'oauth2_client_credentials',
          oauth2_client_credentials: {
            token_url: `${idp.issuer}/token`,
            client_id: clientId,
            client_secret: 'secret',
            scope: 'api',
            ...extra,
          },
        },
      })
    ).data;
  }

  it('creates each type, shows the secret parts only as ***, and keeps them per organization', async () => {
    const created = await alice.client.connections.createConnection({
      connectionCreate: {
        name: 'crm',
        type: 'api_key',
        description: 'The CRM',
        api_key: { location: 'header', name: 'X-API-Key', value: API_KEY },
      },
    });
    expect(created.status).to.equal(201);
    expect(created.data).to.include({ name: 'crm', type: 'api_key', description: 'The CRM' });
    expect(created.data.id).to.match(/^conn-/);
    expect(created.data.api_key).to.deep.equal({ location: 'header', name: 'X-API-Key', value: '***' });
    const basic = (
      await alice.client.connections.createConnection({
        connectionCreate: { name: 'reports', type: 'basic', basic: { username: 'reports', password: PASSWORD } },
      })
    ).data;
    expect(basic.basic).to.deep.equal({ username: 'reports', password: '***' });
    const bearer = (
      await alice.client.connections.createConnection({
        connectionCreate: { name: 'static', type: 'bearer', bearer: { token: BEARER } },
      })
    ).data;
    const o = await oauth(alice, 'idp');
    expect(o.oauth2_client_credentials).to.deep.include({ client_id: clientId, client_secret: '***', scope: 'api' });

    const got = (await alice.client.connections.getConnection({ id: created.data.id })).data;
    expect(got).to.deep.equal(created.data);
    // Pages newest first, by cursor.
    const first = (await alice.client.connections.listConnections({ limit: 3 })).data;
    expect(first.connections.map((c) => c.name)).to.deep.equal(['idp', 'static', 'reports']);
    expect(first.next_cursor).to.be.a('string');
    const second = (await alice.client.connections.listConnections({ limit: 3, cursor: first.next_cursor! })).data;
    expect(second.connections.map((c) => c.name)).to.deep.equal(['crm']);
    expect(second.next_cursor).to.equal(null);
    for (const body of [created.data, basic, bearer, o, got, first, second]) {
      const text = JSON.stringify(body);
      for (const secret of [API_KEY, PASSWORD, BEARER, '"secret"']) expect(text).not.to.contain(secret);
    }

    // Another account neither sees nor changes them; an admin sees them.
    await expectError(bob.client.connections.getConnection({ id: created.data.id }), 404, 'not_found');
    await expectError(
      bob.client.connections.updateConnection({ id: created.data.id, connectionUpdate: { name: 'mine' } }),
      404,
      'not_found',
    );
    await expectError(bob.client.connections.deleteConnection({ id: created.data.id }), 404, 'not_found');
    expect((await bob.client.connections.listConnections({})).data.connections).to.deep.equal([]);
    expect((await admin.client.connections.getConnection({ id: created.data.id })).data.name).to.equal('crm');
    // Bob may use the same name for his own.
    await bob.client.connections.createConnection({
      connectionCreate: { name: 'crm', type: 'bearer', bearer: { token: 'bobs-token-000000' } },
    });
  });

  it('refuses a taken name (409), settings of another type or none (422), and a foreign cursor (400)', async () => {
    await alice.client.connections.createConnection({
      connectionCreate: { name: 'dup', type: 'bearer', bearer: { token: 'dup-token-0000000' } },
    });
    const dup = await expectError(
      alice.client.connections.createConnection({
        connectionCreate: { name: 'dup', type: 'bearer', bearer: { token: 'other-token-00000' } },
      }),
      409,
      'conflict',
    );
    expect(dup.message).to.contain('dup');
    const wrong = await expectError(
      alice.client.connections.createConnection({
        connectionCreate: { name: 'x1', type: 'bearer', basic: { username: 'u', password: 'p' } },
      }),
      422,
      'validation_error',
    );
    expect(wrong.details).to.include({ field: 'basic' });
    const none = await expectError(
      alice.client.connections.createConnection({ connectionCreate: { name: 'x2', type: 'basic' } }),
      422,
      'validation_error',
    );
    expect(none.details).to.include({ field: 'basic' });
    await expectError(alice.client.connections.listConnections({ cursor: 'not-a-cursor' }), 400, 'invalid_request');
    const names = (await alice.client.connections.listConnections({ limit: 100 })).data.connections.map((c) => c.name);
    expect(names).not.to.include.members(['x1', 'x2']);
  });

  it('puts API key (header and query), Basic and bearer credentials on requests, masked in steps and logs', async () => {
    const header = await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'crm')));
    expect(header.status).to.equal('completed');
    expect(target.hits.at(-1)!.headers['x-api-key']).to.equal(API_KEY);
    expect((header.result as { body: { key: string } }).body.key).to.equal('***');

    await alice.client.connections.createConnection({
      connectionCreate: {
        name: 'inquery',
        type: 'api_key',
        api_key: { location: 'query', name: 'api_key', value: API_KEY },
      },
    });
    const query = await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'inquery')));
    expect(query.status).to.equal('completed');
    expect(target.hits.at(-1)!.path).to.equal(`/echo?api_key=${API_KEY}`);
    // The target echoed the URL with the key: the execution keeps it masked, and its logs never show it.
    expect((query.result as { body: { url: string } }).body.url).to.equal('/echo?api_key=***');
    expect(JSON.stringify((await alice.client.executions.getExecutionLogs({ id: query.id })).data)).not.to.contain(
      API_KEY,
    );

    const basic = await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'reports')));
    expect(target.hits.at(-1)!.headers.authorization).to.equal(
      `Basic ${Buffer.from(`reports:${PASSWORD}`).toString('base64')}`,
    );
    expect((basic.result as { body: { authorization: string } }).body.authorization).to.equal('Basic ***');

    const bearer = await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'static')));
    expect(target.hits.at(-1)!.headers.authorization).to.equal(`Bearer ${BEARER}`);
    expect((bearer.result as { body: { authorization: string } }).body.authorization).to.equal('Bearer ***');
    const steps = JSON.stringify((await alice.client.executions.getExecutionSteps({ id: bearer.id })).data);
    expect(steps).not.to.contain(BEARER);
  });

  it('an update keeps the secret it is not given; a deleted connection fails the step saying so', async () => {
    const id = (await alice.client.connections.listConnections({ limit: 100 })).data.connections.find(
      (c) => c.name === 'reports',
    )!.id;
    const renamed = await alice.client.connections.updateConnection({
      id,
      connectionUpdate: { name: 'reports2', basic: { username: 'reports' }, description: 'renamed' },
    });
    expect(renamed.data).to.include({ name: 'reports2', description: 'renamed' });
    expect(renamed.data.basic).to.deep.equal({ username: 'reports', password: '***' });
    await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'reports2')));
    expect(target.hits.at(-1)!.headers.authorization).to.equal(
      `Basic ${Buffer.from(`reports:${PASSWORD}`).toString('base64')}`,
    );
    await expectError(
      alice.client.connections.updateConnection({ id, connectionUpdate: { bearer: { token: 'tttttttt' } } }),
      422,
      'validation_error',
    );
    await expectError(
      alice.client.connections.updateConnection({ id, connectionUpdate: { name: 'crm' } }),
      409,
      'conflict',
    );

    expect((await alice.client.connections.deleteConnection({ id })).status).to.equal(200);
    await expectError(alice.client.connections.getConnection({ id }), 404, 'not_found');
    const failed = await runToEnd(alice, await makeFlow(alice, callFlow('/echo', 'reports2')));
    expect(failed.status).to.equal('failed');
    expect(failed.error).to.contain('connection "reports2" not found');
  });

  it('OAuth2 client credentials: fetches a token from the provider once, reuses it, and masks it', async () => {
    const flowId = await makeFlow(alice, callFlow('/protected', 'idp'));
    const before = seen.tokens.length;
    const one = await runToEnd(alice, flowId);
    const two = await runToEnd(alice, flowId);
    expect([one.status, two.status]).to.deep.equal(['completed', 'completed']);
    const used = seen.tokens.slice(before);
    expect(used).to.have.length(2);
    expect(used[1]).to.equal(used[0]); // cached, not fetched again
    expect(decodeJwt(used[0]).sub).to.equal(clientId);
    // The target echoed the token: what the execution keeps has it masked.
    expect((one.result as { body: { token: string } }).body.token).to.equal('***');
    const steps = JSON.stringify((await alice.client.executions.getExecutionSteps({ id: one.id })).data);
    expect(steps).not.to.contain(used[0]);
  });

  it('OAuth2: a token that expires is replaced before it is used again (no 401 on the way)', async () => {
    await oauth(alice, 'short', { resource: SHORT_LIVED_RESOURCE });
    const flowId = await makeFlow(alice, callFlow('/protected', 'short'));
    const unauthorized = seen.unauthorized;
    const before = seen.tokens.length;
    expect((await runToEnd(alice, flowId)).status).to.equal('completed');
    const first = seen.tokens.at(-1)!;
    const exp = decodeJwt(first).exp! * 1000;
    await eventually(
      async () => {
        if (Date.now() <= exp + 100) throw new Error('the token has not expired yet');
      },
      { timeout: 10_000, what: 'the first token to expire' },
    );
    expect((await runToEnd(alice, flowId)).status).to.equal('completed');
    const second = seen.tokens.at(-1)!;
    expect(seen.tokens.length - before).to.equal(2);
    expect(second).not.to.equal(first);
    expect(decodeJwt(second).exp! * 1000).to.be.above(Date.now());
    expect(seen.unauthorized).to.equal(unauthorized);
  });

  it('OAuth2: a 401 from the target fetches a new token once and repeats the request', async () => {
    const flowId = await makeFlow(alice, callFlow('/protected', 'idp'));
    expect((await runToEnd(alice, flowId)).status).to.equal('completed');
    const cached = seen.tokens.at(-1)!;
    seen.rejected.add(cached); // the target no longer accepts it, though it has not expired
    const unauthorized = seen.unauthorized;
    const ex = await runToEnd(alice, flowId);
    expect(ex.status).to.equal('completed');
    expect(seen.unauthorized).to.equal(unauthorized + 1);
    expect(seen.tokens.at(-1)).not.to.equal(cached);
    const logs = (await alice.client.executions.getExecutionLogs({ id: ex.id })).data.logs.map((l) => l.message);
    expect(logs).to.include('The target answered 401; fetching a new token for connection "idp"');
  });

  it('OAuth2: a wrong client secret fails the step, saying the provider refused the credentials', async () => {
    await alice.client.connections.createConnection({
      connectionCreate: {
        name: 'wrong',
        type: 'oauth2_client_credentials',
        oauth2_client_credentials: {
          token_url: `${idp.issuer}/token`,
          client_id: clientId,
          client_secret: 'not-the-secret',
        },
      },
    });
    const hits = target.hits.length;
    const ex = await runToEnd(alice, await makeFlow(alice, callFlow('/protected', 'wrong')));
    expect(ex.status).to.equal('failed');
    expect(ex.error).to.contain('connection "wrong": the token endpoint refused the client credentials');
    expect(ex.error).to.contain('invalid_client');
    expect(ex.error).not.to.contain('not-the-secret');
    expect(target.hits.length).to.equal(hits); // the target was never called
  });
});
