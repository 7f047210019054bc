import axios from 'axios';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { apiClient, expectError } from '../support/client';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server';

describe('auth: login, tokens and API keys', () => {
  let server: TestServer;
  let alice: TestAccount;
  before(async () => {
    server = await startTestServer({ FLOWRUNNER_LOGIN_MAX_FAILURES: '3' });
    alice = await makeAccount(server);
  });
  after(() => server.close());
  beforeEach(() => server.db('login_failures').delete());

  const anonymous = () => apiClient(server.url);
  const me = (token: string) => apiClient(server.url, { token }).users.getCurrentUser();

  describe('login', () => {
    it('returns a token for the email and password, case-insensitive email', async () => {
      const { data } = await anonymous().auth.login({
        loginRequest: {
          username: alice.account.email.toUpperCase(),
          password: alice.password,
        },
      });
      expect(data.account_id).to.equal(alice.account.id);
      expect(new Date(data.expires_at).getTime()).to.be.greaterThan(Date.now() + 3500_000);
      expect((await me(data.token)).data.email).to.equal(alice.account.email);
    });

    it('gives the same 401 for an unknown email and a wrong password', async () => {
      const a = await expectError(
        anonymous().auth.login({ loginRequest: { username: 'nobody@example.com', password: 'whatever1' } }),
        401,
        'unauthorized',
      );
      const b = await expectError(
        anonymous().auth.login({ loginRequest: { username: alice.account.email, password: 'wrong-password' } }),
        401,
        'unauthorized',
      );
      expect(a).to.deep.equal(b);
    });

    it('refuses with 429 and Retry-After after repeated failures, until the lock passes', async () => {
      const bob = await makeAccount(server);
      for (let i = 0; i < 2; i++)
        await expectError(
          anonymous().auth.login({ loginRequest: { username: bob.account.email, password: 'wrong-password' } }),
          401,
          'unauthorized',
        );
      await expectError(
        anonymous().auth.login({ loginRequest: { username: bob.account.email, password: 'wrong-password' } }),
        429,
        'rate_limited',
      );
      // Even the right password is refused while locked.
      const res = await axios.post(
        `${server.url}/api/v1/auth/login`,
        { username: bob.account.email, password: bob.password },
        { validateStatus: () => true },
      );
      expect(res.status).to.equal(429);
      expect(Number(res.headers['retry-after'])).to.be.within(1, 900);
      expect(res.data.error.code).to.equal('rate_limited');

      // Once the lock has passed (moved into the past here), the right password logs in.
      const locked = await server
        .db('login_failures')
        .where('key', 'like', `pair:${bob.account.email.toLowerCase()} %`);
      expect(locked).to.have.length(1);
      expect(locked[0].locked_until.getTime()).to.be.greaterThan(Date.now());
      await server
        .db('login_failures')
        .where({ key: locked[0].key })
        .update({ locked_until: new Date(Date.now() - 1000) });
      const again = await anonymous().auth.login({
        loginRequest: { username: bob.account.email, password: bob.password },
      });
      expect(again.data.account_id).to.equal(bob.account.id);
    });

    it('resets the failure count on success', async () => {
      const carol = await makeAccount(server);
      for (let i = 0; i < 2; i++)
        await expectError(
          anonymous().auth.login({ loginRequest: { username: carol.account.email, password: 'wrong-password' } }),
          401,
          'unauthorized',
        );
      await anonymous().auth.login({ loginRequest: { username: carol.account.email, password: carol.password } });
      for (let i = 0; i < 2; i++)
        await expectError(
          anonymous().auth.login({ loginRequest: { username: carol.account.email, password: 'wrong-password' } }),
          401,
          'unauthorized',
        );
      expect(
        (await anonymous().auth.login({ loginRequest: { username: carol.account.email, password: carol.password } }))
          .status,
      ).to.equal(200);
    });

    it('rejects a login body without a password as invalid_request', async () => {
      const err = await expectError(
        anonymous().auth.login({ loginRequest: { username: 'a@b.c' } as never }),
        400,
        'invalid_request',
      );
      expect(err.details?.field).to.equal('password');
    });
  });

  describe('tokens', () => {
    const sign = (claims: object, secret = TEST_JWT_SECRET, options: jwt.SignOptions = {}) =>
      jwt.sign(
        { sub: alice.account.id, jti: 'j-' + Math.random(), exp: Math.floor(Date.now() / 1000) + 600, ...claims },
        secret,
        { algorithm: 'HS256', issuer: 'flowrunner', audience: 'flowrunner-api', ...options },
      );

    it('accepts a well-formed token', async () => {
      expect((await me(sign({}))).data.id).to.equal(alice.account.id);
    });

    const refused: [string, () => string][] = [
      ['expired', () => sign({ exp: Math.floor(Date.now() / 1000) - 10 })],
      ['signed with another secret', () => sign({}, 'another-secret-that-is-long-enough-0123456789')],
      ['of another issuer', () => sign({}, TEST_JWT_SECRET, { issuer: 'someone-else' })],
      ['of another audience', () => sign({}, TEST_JWT_SECRET, { audience: 'another-api' })],
      [
        'alg:none',
        () => {
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
          const payload = Buffer.from(
            JSON.stringify({
              sub: alice.account.id,
              jti: 'x',
              iss: 'flowrunner',
              aud: 'flowrunner-api',
              exp: Math.floor(Date.now() / 1000) + 600,
            }),
          ).toString('base64url');
          return `${header}.${payload}.`;
        },
      ],
      [
        'tampered',
        () => {
          const [h, , s] = sign({}).split('.');
          const payload = Buffer.from(
            JSON.stringify({
              sub: 'acct-someone-else',
              jti: 'x',
              iss: 'flowrunner',
              aud: 'flowrunner-api',
              exp: Math.floor(Date.now() / 1000) + 600,
            }),
          ).toString('base64url');
          return `${h}.${payload}.${s}`;
        },
      ],
      ['garbage', () => 'garbage'],
      ['of a deleted account', () => sign({ sub: 'acct-gone' })],
    ];
    for (const [what, token] of refused) {
      it(`refuses a token ${what} with 401`, async () => {
        await expectError(me(token()), 401, 'unauthorized');
      });
    }

    it('logout revokes the token at once', async () => {
      const { data } = await anonymous().auth.login({
        loginRequest: { username: alice.account.email, password: alice.password },
      });
      const client = apiClient(server.url, { token: data.token });
      expect((await client.auth.logout()).data).to.deep.equal({ message: 'Logged out successfully' });
      await expectError(client.users.getCurrentUser(), 401, 'unauthorized');
      await expectError(client.auth.refreshToken(), 401, 'unauthorized');
    });

    it('refresh issues a new token and revokes the old one', async () => {
      const { data } = await anonymous().auth.login({
        loginRequest: { username: alice.account.email, password: alice.password },
      });
      const fresh = (await apiClient(server.url, { token: data.token }).auth.refreshToken()).data;
      expect(fresh.token).not.to.equal(data.token);
      await expectError(me(data.token), 401, 'unauthorized');
      expect((await me(fresh.token)).data.id).to.equal(alice.account.id);
    });
  });

  describe('API keys', () => {
    it('shows the key once, lists it without the key, authenticates, and stops at once when revoked', async () => {
      const { data: created, status } = await alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'ci' } });
      expect(status).to.equal(201);
      expect(created.key).to.match(/^frk_/);
      expect(created.key.startsWith(created.prefix)).to.equal(true);

      const listed = (await alice.client.apiKeys.listApiKeys()).data.api_keys.find((k) => k.id === created.id)!;
      expect(listed).to.include({ name: 'ci', prefix: created.prefix });
      expect(listed).not.to.have.property('key');
      expect(JSON.stringify((await alice.client.apiKeys.listApiKeys()).data)).not.to.contain(created.key);

      const byKey = apiClient(server.url, { apiKey: created.key });
      expect((await byKey.users.getCurrentUser()).data.id).to.equal(alice.account.id);
      const used = (await alice.client.apiKeys.listApiKeys()).data.api_keys.find((k) => k.id === created.id)!;
      expect(used.last_used_at).to.be.a('string');

      const [row] = await server.db('api_keys').where({ id: created.id });
      expect(row.key_hash).not.to.contain(created.key);

      await alice.client.apiKeys.deleteApiKey({ id: created.id });
      await expectError(byKey.users.getCurrentUser(), 401, 'unauthorized');
    });

    it('refuses an expired key, and an expiry in the past', async () => {
      const { data } = await alice.client.apiKeys.createApiKey({
        apiKeyCreate: {
          name: 'short',
          expires_at: new Date(Date.now() + 60_000).toISOString(),
        },
      });
      await server
        .db('api_keys')
        .where({ id: data.id })
        .update({ expires_at: new Date(Date.now() - 1000) });
      await expectError(apiClient(server.url, { apiKey: data.key }).users.getCurrentUser(), 401, 'unauthorized');
      const err = await expectError(
        alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'past', expires_at: '2000-01-01T00:00:00Z' } }),
        422,
        'validation_error',
      );
      expect(err.details?.field).to.equal('expires_at');
    });

    it('refuses an unknown key', async () => {
      await expectError(apiClient(server.url, { apiKey: 'frk_not-a-key' }).users.getCurrentUser(), 401, 'unauthorized');
    });

    it("cannot revoke another account's key", async () => {
      const other = await makeAccount(server);
      const { data } = await other.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'theirs' } });
      await expectError(alice.client.apiKeys.deleteApiKey({ id: data.id }), 404, 'not_found');
      expect((await alice.client.apiKeys.listApiKeys()).data.api_keys.map((k) => k.id)).not.to.include(data.id);
      expect((await apiClient(server.url, { apiKey: data.key }).users.getCurrentUser()).status).to.equal(200);
    });
  });
});
