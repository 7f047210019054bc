import crypto from 'node:crypto';
import { expect } from 'chai';
import { decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { apiClient, expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, uniqueEmail } from '../support/factories';
import { record, wsUrl } from '../support/ws';
import {
  API_AUDIENCE,
  OTHER_API,
  SHORT_LIVED_RESOURCE,
  startIdentityProvider,
  type Person,
  type TestIdentityProvider,
} from '../support/oidc-provider';
import { startTestServer, type TestServer } from '../support/server';

const DOWN_ISSUER = 'http://127.0.0.1:9';

describe('OpenID Connect: identity provider tokens and users/me', () => {
  let idp: TestIdentityProvider;
  let stranger: TestIdentityProvider; // a real provider FlowRunner does not trust
  let server: TestServer;

  before(async () => {
    idp = await startIdentityProvider();
    stranger = await startIdentityProvider();
    server = await startTestServer({
      // The second issuer is trusted but down: nothing listens on the discard port.
      FLOWRUNNER_OIDC_ISSUER: `${idp.issuer},${DOWN_ISSUER}`,
      FLOWRUNNER_OIDC_AUDIENCE: API_AUDIENCE,
      FLOWRUNNER_OIDC_ROLES_CLAIM: 'roles',
      FLOWRUNNER_OIDC_ADMIN_ROLE: 'flowrunner-admin',
      FLOWRUNNER_OIDC_CLOCK_SKEW_SECONDS: '0',
      // A token with a new key id fetches the key set again at once (the default waits 30 s between fetches).
      FLOWRUNNER_OIDC_JWKS_COOLDOWN_SECONDS: '0',
    });
    // The provider's first request loads its modules (seconds on a busy machine), and the server's
    // first external token fetches discovery and the key set: neither in a test's time.
    const warmUp = await idp.token(idp.addPerson({ email: uniqueEmail('warm-up') }));
    await expectError(apiClient(server.url, { token: warmUp }).users.getCurrentUser(), 401, 'unauthorized');
  });
  after(async () => {
    await server?.close();
    await idp?.close();
    await stranger?.close();
  });

  const as = (token: string) => apiClient(server.url, { token });
  const person = (overrides: Person = {}) => {
    const email = uniqueEmail('sso');
    const subject = idp.addPerson({ email, name: 'Sam Sso', ...overrides });
    return { subject, email: overrides.email ?? email };
  };
  const provisioned = async (overrides: Person = {}) => {
    const p = person(overrides);
    const token = await idp.token(p.subject);
    await as(token).users.provisionCurrentUser();
    return { ...p, token };
  };

  describe('provisioning with POST users/me', () => {
    it('refuses an identity without an account with 401, naming POST users/me', async () => {
      const { subject } = person();
      const token = await idp.token(subject);
      const error = await expectError(as(token).users.getCurrentUser(), 401, 'unauthorized');
      expect(error.message).to.contain('POST /api/v1/users/me');
      expect(error.details).to.include({ reason: 'account_not_provisioned', external_id: subject, issuer: idp.issuer });
      await expectError(as(token).flows.listFlows(), 401, 'unauthorized');
    });

    it('creates the account from the token the first time (201), then returns it (200)', async () => {
      const { subject, email } = person();
      const token = await idp.token(subject);
      const first = await as(token).users.provisionCurrentUser({ provisionRequest: { email } });
      expect(first.status).to.equal(201);
      expect(first.data).to.deep.include({
        email,
        name: 'Sam Sso',
        role: 'user',
        external_id: subject,
        external_issuer: idp.issuer,
        authenticated_via: 'oidc',
      });
      expect(first.data.permissions).to.include.members(['flows:write', 'executions:run']);
      expect(first.data.permissions).to.not.include('accounts:manage');

      const again = await as(token).users.provisionCurrentUser();
      expect(again.status).to.equal(200);
      expect(again.data.id).to.equal(first.data.id);
      const me = await as(token).users.getCurrentUser();
      expect(me.data).to.deep.equal(again.data);
      expect(await server.db('accounts').where({ external_id: subject }).select('id')).to.have.length(1);
      // The token now works for every operation, as the account's.
      const flows = await as(token).flows.listFlows();
      expect(flows.status).to.equal(200);
    });

    it('refuses an email that is not the token’s with 403 and creates nothing', async () => {
      const { subject } = person();
      const token = await idp.token(subject);
      const error = await expectError(
        as(token).users.provisionCurrentUser({ provisionRequest: { email: uniqueEmail('someone-else') } }),
        403,
        'forbidden',
      );
      expect(error.details).to.include({ field: 'email', reason: 'email_mismatch' });
      expect(await server.db('accounts').where({ external_id: subject }).first()).to.equal(undefined);
    });

    it('refuses another email to a caller who already has an account too', async () => {
      const { token } = await provisioned();
      await expectError(
        as(token).users.provisionCurrentUser({ provisionRequest: { email: uniqueEmail('other') } }),
        403,
        'forbidden',
      );
    });

    it('refuses a token without an email, or with an unverified one, with 403', async () => {
      const noEmail = idp.addPerson({ name: 'No Mail' });
      const e1 = await expectError(as(await idp.token(noEmail)).users.provisionCurrentUser(), 403, 'forbidden');
      expect(e1.details).to.include({ reason: 'token_without_email', claim: 'email' });
      const unverified = idp.addPerson({ email: uniqueEmail('unverified'), email_verified: false });
      const e2 = await expectError(as(await idp.token(unverified)).users.provisionCurrentUser(), 403, 'forbidden');
      expect(e2.details).to.include({ reason: 'email_not_verified' });
    });

    it('never takes over a local account by its email (409)', async () => {
      const local = await makeAccount(server);
      const subject = idp.addPerson({ email: local.account.email });
      await expectError(as(await idp.token(subject)).users.provisionCurrentUser(), 409, 'conflict');
      const me = await local.client.users.getCurrentUser();
      expect(me.data).to.include({ external_id: null, external_issuer: null });
    });

    it('takes the role from the roles claim on every request', async () => {
      const admin = await provisioned({ roles: ['flowrunner-admin', 'staff'] });
      const me = await as(admin.token).users.getCurrentUser();
      expect(me.data.role).to.equal('admin');
      expect(me.data.permissions).to.include.members(['accounts:manage', 'all:read']);
      expect((await as(admin.token).accounts.listAccounts()).status).to.equal(200);

      const user = await provisioned({ roles: ['staff'] });
      expect((await as(user.token).users.getCurrentUser()).data.role).to.equal('user');
      await expectError(as(user.token).accounts.listAccounts(), 403, 'forbidden');
    });

    it('has no password: logins with its email fail, and none can be set', async () => {
      const { token, email } = await provisioned();
      const { data: me } = await as(token).users.getCurrentUser();
      await expectError(
        apiClient(server.url).auth.login({ loginRequest: { username: email, password: 'any-password' } }),
        401,
        'unauthorized',
      );
      const error = await expectError(
        as(token).accounts.updateAccount({ id: me.id, accountUpdate: { password: 'a-new-password' } }),
        422,
        'validation_error',
      );
      expect(error.details).to.include({ field: 'password', reason: 'external_account' });
      const renamed = await as(token).accounts.updateAccount({ id: me.id, accountUpdate: { name: 'Renamed' } });
      expect(renamed.data.name).to.equal('Renamed');
    });

    it('is refused when its account is deleted', async () => {
      const { token, subject } = await provisioned();
      const row = await server.db('accounts').where({ external_id: subject }).first();
      const admin = await makeAccount(server, { role: 'admin' });
      await admin.client.accounts.deleteAccount({ id: row.id });
      const error = await expectError(as(token).users.getCurrentUser(), 401, 'unauthorized');
      expect(error.details).to.include({ reason: 'account_not_provisioned' });
    });
  });

  describe('verification', () => {
    it('refuses a token of an issuer that is not trusted, even for a subject that has an account here', async () => {
      const { subject } = await provisioned();
      const foreign = stranger.addPerson({ email: uniqueEmail('foreign') });
      await expectError(as(await stranger.token(foreign)).users.getCurrentUser(), 401, 'unauthorized');
      // The same subject at another issuer is another identity.
      const lookalike = stranger.addPerson({ email: uniqueEmail('lookalike') });
      expect(lookalike).to.not.equal(subject);
      await expectError(as(await stranger.token(lookalike)).users.provisionCurrentUser(), 401, 'unauthorized');
    });

    it('refuses a token meant for another API (audience)', async () => {
      const { subject } = await provisioned();
      const error = await expectError(
        as(await idp.token(subject, OTHER_API)).users.getCurrentUser(),
        401,
        'unauthorized',
      );
      expect(error.details).to.include({ reason: 'audience' });
    });

    it('refuses an expired token', async () => {
      const { subject } = await provisioned();
      const token = await idp.token(subject, SHORT_LIVED_RESOURCE);
      expect((await as(token).users.getCurrentUser()).status).to.equal(200);
      // The token lives three seconds, and this server allows no clock skew.
      await eventually(
        async () => {
          const error = await expectError(as(token).users.getCurrentUser(), 401, 'unauthorized');
          expect(error.details).to.include({ reason: 'expired' });
        },
        { timeout: 8000, interval: 250, what: 'the three-second token to be refused as expired' },
      );
    });

    it('follows a key rotation: tokens signed with the new key are accepted, the old ones until they expire', async () => {
      const { subject, token: before } = await provisioned();
      const oldKid = decodeProtectedHeader(before).kid;
      await idp.rotateKeys({ keepOld: true });
      const after = await idp.token(subject);
      expect(decodeProtectedHeader(after).kid).to.not.equal(oldKid);
      expect((await as(after).users.getCurrentUser()).data.external_id).to.equal(subject);
      expect((await as(before).users.getCurrentUser()).data.external_id).to.equal(subject);
    });

    it('refuses a token signed with a key the issuer does not publish, whatever its claims', async () => {
      const { subject } = await provisioned();
      const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await new SignJWT({ email: 'x@example.com' })
        .setProtectedHeader({ alg: 'ES256', kid: idp.signingKey().kid })
        .setIssuer(idp.issuer)
        .setAudience(API_AUDIENCE)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      const e1 = await expectError(as(forged).users.getCurrentUser(), 401, 'unauthorized');
      expect(e1.details).to.include({ reason: 'signature' });
      const unknownKid = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'not-published' })
        .setIssuer(idp.issuer)
        .setAudience(API_AUDIENCE)
        .setSubject(subject)
        .setExpirationTime('5m')
        .sign(privateKey);
      const e2 = await expectError(as(unknownKid).users.getCurrentUser(), 401, 'unauthorized');
      expect(e2.details).to.include({ reason: 'unknown_key' });
      // A shared-secret algorithm is never accepted for an issuer.
      const hmac = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(idp.issuer)
        .setAudience(API_AUDIENCE)
        .setSubject(subject)
        .setExpirationTime('5m')
        .sign(await importJWK({ kty: 'oct', k: Buffer.from('x'.repeat(32)).toString('base64url') }, 'HS256'));
      await expectError(as(hmac).users.getCurrentUser(), 401, 'unauthorized');
    });
  });

  it('refuses the tokens of a trusted issuer that cannot be reached with 401, saying so', async () => {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const token = await new SignJWT({ email: uniqueEmail('down') })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(DOWN_ISSUER)
      .setAudience(API_AUDIENCE)
      .setSubject('someone')
      .setExpirationTime('5m')
      .sign(privateKey);
    for (let i = 0; i < 2; i++) {
      const error = await expectError(as(token).users.provisionCurrentUser(), 401, 'unauthorized');
      expect(error.details).to.include({ reason: 'issuer_unreachable', issuer: DOWN_ISSUER });
    }
    // The issuer that is up is not affected.
    const { token: fine } = await provisioned();
    expect((await as(fine).users.getCurrentUser()).status).to.equal(200);
  });

  it('authenticates the WebSocket with the same tokens', async () => {
    const { token } = await provisioned();
    const ws = record(wsUrl(server.url, '/ws/executions'), { headers: { authorization: `Bearer ${token}` } });
    expect(await ws.opened).to.equal(true);
    ws.ws.close();
    const unprovisioned = await idp.token(person().subject);
    const refused = record(wsUrl(server.url, '/ws/executions'), {
      headers: { authorization: `Bearer ${unprovisioned}` },
    });
    expect(await refused.done).to.deep.equal({ status: 401 });
  });

  describe('local callers', () => {
    it('show on users/me with no external id, and POST users/me returns their account', async () => {
      const local = await makeAccount(server);
      const me = await local.client.users.getCurrentUser();
      expect(me.data).to.deep.include({
        id: local.account.id,
        email: local.account.email,
        role: 'user',
        external_id: null,
        external_issuer: null,
        authenticated_via: 'token',
      });
      const again = await local.client.users.provisionCurrentUser({ provisionRequest: { email: local.account.email } });
      expect(again.status).to.equal(200);
      expect(again.data.id).to.equal(local.account.id);

      const { data: key } = await local.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'k' } });
      const viaKey = await apiClient(server.url, { apiKey: key.key }).users.getCurrentUser();
      expect(viaKey.data).to.include({ id: local.account.id, authenticated_via: 'api_key' });
    });

    it('keep refresh and logout to our own tokens', async () => {
      const { token } = await provisioned();
      await expectError(as(token).auth.refreshToken(), 401, 'unauthorized');
      await expectError(as(token).auth.logout(), 401, 'unauthorized');
      expect((await as(token).users.getCurrentUser()).status).to.equal(200);
    });
  });
});
