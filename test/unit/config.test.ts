import { expect } from 'chai';
import { parseConfig } from '../../src/config';

describe('config', () => {
  it('has defaults for everything', () => {
    const c = parseConfig({});
    expect(c.port).to.equal(8080);
    expect(c.role).to.equal('all');
    expect(c.databaseUrl).to.equal(undefined);
    expect(c.dataDir).to.match(/\.flowrunner$/);
    expect(c.validateResponses).to.equal(false);
    expect(c).to.include({
      expressionTimeoutMs: 1000,
      expressionMaxDepth: 10_000,
      expressionMemoryMb: 128,
      expressionProcesses: 2,
    });
    expect(c).to.include({ maxWaitSeconds: 25, maxWaitingRequests: 10_000 });
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'eighty', /PORT must be an integer/],
    ['PORT', '70000', /PORT must be an integer from 0 to 65535/],
    ['FLOWRUNNER_ROLE', 'boss', /FLOWRUNNER_ROLE must be one of all, api, worker/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres:\/\/ URL/],
    ['FLOWRUNNER_JWT_SECRET', 'short', /FLOWRUNNER_JWT_SECRET must be at least 32/],
    ['FLOWRUNNER_ENCRYPTION_KEY', 'abc', /FLOWRUNNER_ENCRYPTION_KEY must be 32 bytes/],
    ['FLOWRUNNER_ADMIN_PASSWORD', 'short', /FLOWRUNNER_ADMIN_PASSWORD must be at least 8/],
    ['FLOWRUNNER_VALIDATE_RESPONSES', 'maybe', /FLOWRUNNER_VALIDATE_RESPONSES must be true or false/],
    ['FLOWRUNNER_EXPRESSION_TIMEOUT_MS', '0', /FLOWRUNNER_EXPRESSION_TIMEOUT_MS must be an integer from 10/],
    ['FLOWRUNNER_EXPRESSION_MAX_DEPTH', 'deep', /FLOWRUNNER_EXPRESSION_MAX_DEPTH must be an integer/],
    ['FLOWRUNNER_EXPRESSION_MEMORY_MB', '8', /FLOWRUNNER_EXPRESSION_MEMORY_MB must be an integer from 16/],
    ['FLOWRUNNER_EXPRESSION_PROCESSES', '0', /FLOWRUNNER_EXPRESSION_PROCESSES must be an integer from 1/],
    // Never above the documented ceiling: waits stay below common proxy timeouts.
    ['FLOWRUNNER_MAX_WAIT_SECONDS', '31', /FLOWRUNNER_MAX_WAIT_SECONDS must be an integer from 0 to 30/],
    ['FLOWRUNNER_MAX_WAITING_REQUESTS', '-1', /FLOWRUNNER_MAX_WAITING_REQUESTS must be an integer from 0/],
  ];
  for (const [name, value, message] of bad) {
    it(`stops on a bad ${name} and names it`, () => {
      expect(() => parseConfig({ [name]: value })).to.throw(message);
    });
  }
});

describe('config: OpenID Connect issuers', () => {
  const base = {
    FLOWRUNNER_OIDC_ISSUER: 'https://idp.example.com/',
    FLOWRUNNER_OIDC_AUDIENCE: 'https://api.example.com',
  };

  it('is off without an issuer, and has defaults with one', () => {
    expect(parseConfig({}).oidc).to.equal(undefined);
    expect(parseConfig(base).oidc).to.deep.equal({
      issuers: ['https://idp.example.com/'],
      audience: 'https://api.example.com',
      rolesClaim: undefined,
      adminRole: 'admin',
      emailClaim: 'email',
      clockSkewSeconds: 30,
      jwksCooldownSeconds: 30,
    });
  });

  it('takes several issuers, and http only on loopback', () => {
    const c = parseConfig({ ...base, FLOWRUNNER_OIDC_ISSUER: 'https://a.example.com, http://127.0.0.1:9000' });
    expect(c.oidc!.issuers).to.deep.equal(['https://a.example.com', 'http://127.0.0.1:9000']);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ FLOWRUNNER_OIDC_ISSUER: 'https://idp.example.com' }, /FLOWRUNNER_OIDC_AUDIENCE is required/],
    [
      { ...base, FLOWRUNNER_OIDC_ISSUER: 'http://idp.example.com' },
      /must be https:\/\/ \(http:\/\/ only on loopback\)/,
    ],
    [{ ...base, FLOWRUNNER_OIDC_ISSUER: 'not a url' }, /FLOWRUNNER_OIDC_ISSUER must list URLs/],
    [{ ...base, FLOWRUNNER_OIDC_ISSUER: ' , ' }, /at least one issuer/],
    [
      { ...base, FLOWRUNNER_OIDC_CLOCK_SKEW_SECONDS: '301' },
      /FLOWRUNNER_OIDC_CLOCK_SKEW_SECONDS must be an integer from 0 to 300/,
    ],
  ];
  for (const [env, message] of bad) {
    it(`stops on ${JSON.stringify(env)}`, () => {
      expect(() => parseConfig(env)).to.throw(message);
    });
  }
});

describe('config: browser sign-in at an identity provider', () => {
  const base = {
    FLOWRUNNER_OIDC_ISSUER: 'https://idp.example.com/realms/acme, https://other.example.com',
    FLOWRUNNER_OIDC_AUDIENCE: 'flowrunner',
    FLOWRUNNER_OIDC_CLIENT_ID: 'flowrunner-console',
    FLOWRUNNER_PUBLIC_URL: 'https://flowrunner.example.com/',
  };

  it('is off without a client id; with one, derives the redirect URI and defaults the rest', () => {
    expect(parseConfig({}).signIn).to.equal(undefined);
    expect(parseConfig({}).docsPrivate).to.equal(false);
    expect(parseConfig(base).signIn).to.deep.equal({
      issuer: 'https://idp.example.com/realms/acme',
      name: 'idp.example.com',
      clientId: 'flowrunner-console',
      clientSecret: undefined,
      scopes: 'openid email profile',
      publicUrl: 'https://flowrunner.example.com',
      redirectUri: 'https://flowrunner.example.com/api/v1/auth/oidc/callback',
    });
  });

  it('takes a secret, a name, scopes (always with openid), another trusted issuer and private docs', () => {
    const c = parseConfig({
      ...base,
      FLOWRUNNER_OIDC_CLIENT_SECRET: 's3cret',
      FLOWRUNNER_OIDC_NAME: 'Acme SSO',
      FLOWRUNNER_OIDC_SCOPES: 'email groups',
      FLOWRUNNER_OIDC_SIGN_IN_ISSUER: 'https://other.example.com',
      FLOWRUNNER_DOCS_PRIVATE: 'true',
    });
    expect(c.signIn).to.include({
      clientSecret: 's3cret',
      name: 'Acme SSO',
      scopes: 'email groups openid',
      issuer: 'https://other.example.com',
    });
    expect(c.docsPrivate).to.equal(true);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ FLOWRUNNER_OIDC_CLIENT_ID: 'x' }, /FLOWRUNNER_OIDC_CLIENT_ID needs FLOWRUNNER_OIDC_ISSUER/],
    [{ ...base, FLOWRUNNER_PUBLIC_URL: '' }, /FLOWRUNNER_PUBLIC_URL is required with FLOWRUNNER_OIDC_CLIENT_ID/],
    [{ ...base, FLOWRUNNER_PUBLIC_URL: 'ftp://x' }, /FLOWRUNNER_PUBLIC_URL must be an http\(s\) URL/],
    [{ ...base, FLOWRUNNER_OIDC_SIGN_IN_ISSUER: 'https://evil.example.com' }, /must be one of FLOWRUNNER_OIDC_ISSUER/],
    [{ FLOWRUNNER_DOCS_PRIVATE: 'true' }, /FLOWRUNNER_DOCS_PRIVATE needs browser sign-in/],
  ];
  for (const [env, message] of bad) {
    it(`stops on ${JSON.stringify(env)}`, () => {
      expect(() => parseConfig(env)).to.throw(message);
    });
  }
});
