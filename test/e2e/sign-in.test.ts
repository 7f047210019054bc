/**
 * Browser sign-in at an identity provider (authorization code + PKCE), end to end: a real OpenID
 * provider (`oidc-provider`, its own login, consent and logout pages), a real FlowRunner on a port
 * its public URL names, and Debian's chromium driven by playwright-core. Covered: the console's
 * "Sign in with …" through the provider and back holding a FlowRunner token, the account created on
 * first sight and found again on the next sign-in, logout here and at the provider, a refusal at
 * the provider, a forged or foreign state, private docs behind the same sign-in, a provider that is
 * down (a page, never a 500), and the operations' answers through the generated client.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { apiClient, expectError } from '../support/client';
import { API_AUDIENCE, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider';
import { uniqueEmail } from '../support/factories';
import { freePort, startTestServer, type TestServer } from '../support/server';

/** The contract's version, in Redoc's heading. */
const CONTRACT_VERSION: string = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../generated/openapi.json'), 'utf8'),
).info.version;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT_MS = 15_000;
const CLIENT_ID = 'flowrunner-console';
const CLIENT_SECRET = 'console-secret-0123456789';
/** Nothing listens on the discard port. */
const DOWN_ISSUER = 'http://127.0.0.1:9';

const storedToken = (page: Page) => page.evaluate<string | null>("sessionStorage.getItem('flowrunner.console.token')");

describe('browser sign-in at an identity provider', function () {
  this.timeout(90_000);
  let idp: TestIdentityProvider;
  let server: TestServer;
  let down: TestServer;
  /** The same provider with a public client: no secret, PKCE alone. */
  let publicClient: TestServer;
  let browser: Browser;
  let publicUrl: string;

  before(async () => {
    idp = await startIdentityProvider();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    idp.addSignInClient({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uri: `${publicUrl}/api/v1/auth/oidc/callback`,
      post_logout_redirect_uri: `${publicUrl}/console`,
    });
    const publicPort = await freePort();
    idp.addSignInClient({
      client_id: 'flowrunner-public',
      redirect_uri: `http://127.0.0.1:${publicPort}/api/v1/auth/oidc/callback`,
      post_logout_redirect_uri: `http://127.0.0.1:${publicPort}/console`,
    });
    const signIn = {
      FLOWRUNNER_OIDC_AUDIENCE: API_AUDIENCE,
      FLOWRUNNER_OIDC_CLIENT_ID: CLIENT_ID,
      FLOWRUNNER_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      FLOWRUNNER_OIDC_NAME: 'Test SSO',
      FLOWRUNNER_OIDC_ROLES_CLAIM: 'roles',
      FLOWRUNNER_OIDC_ADMIN_ROLE: 'flowrunner-admin',
    };
    server = await startTestServer(
      {
        ...signIn,
        FLOWRUNNER_OIDC_ISSUER: idp.issuer,
        FLOWRUNNER_PUBLIC_URL: publicUrl,
        FLOWRUNNER_DOCS_PRIVATE: 'true',
      },
      undefined,
      { port },
    );
    down = await startTestServer({ ...signIn, FLOWRUNNER_OIDC_ISSUER: DOWN_ISSUER, FLOWRUNNER_PUBLIC_URL: publicUrl });
    publicClient = await startTestServer(
      {
        ...signIn,
        FLOWRUNNER_OIDC_CLIENT_ID: 'flowrunner-public',
        FLOWRUNNER_OIDC_CLIENT_SECRET: '',
        FLOWRUNNER_OIDC_ISSUER: idp.issuer,
        FLOWRUNNER_PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
      },
      undefined,
      { port: publicPort },
    );
    const launched = chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    // The console is built on its first request, the provider loads its modules on its first:
    // neither in a test's time.
    expect((await fetch(`${server.url}/console/app.js`)).status).to.equal(200);
    expect((await fetch(`${idp.issuer}/.well-known/openid-configuration`)).status).to.equal(200);
    browser = await launched;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await down?.close();
    await publicClient?.close();
    await idp?.close();
  });

  /** A browser of its own (cookies, storage): one person. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    return { context, page };
  }

  /** On the provider's login page: sign in as `login`, and consent when the provider asks. */
  async function signInAtProvider(page: Page, login: string, back = publicUrl): Promise<void> {
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const consent = page.getByRole('button', { name: 'Continue' });
    await page.waitForURL((url) => url.origin === back || url.pathname.startsWith('/interaction/'));
    if (new URL(page.url()).origin !== back) await consent.click();
  }

  describe('the operations', () => {
    const anonymous = () => apiClient(server.url);

    it('offers the identity provider on the sign-in page, and says the docs are private', async () => {
      const { data } = await anonymous().auth.getSignInOptions();
      expect(data).to.deep.equal({
        password: true,
        identity_provider: { name: 'Test SSO', issuer: idp.issuer, sign_in_url: '/api/v1/auth/oidc/authorize' },
        docs_private: true,
      });
      const { data: none } = await apiClient(down.url).auth.getSignInOptions();
      expect(none.identity_provider).to.include({ name: 'Test SSO', issuer: DOWN_ISSUER });
    });

    it('starts with PKCE (S256), a state and a nonce, bound to the browser by an HttpOnly cookie', async () => {
      const res = await anonymous().auth.startOidcSignIn({}, { maxRedirects: 0, validateStatus: (s) => s === 302 });
      const location = new URL(res.headers.location as string);
      expect(`${location.origin}${location.pathname}`).to.equal(`${idp.issuer}/auth`);
      const q = Object.fromEntries(location.searchParams);
      expect(q).to.include({
        response_type: 'code',
        client_id: CLIENT_ID,
        redirect_uri: `${publicUrl}/api/v1/auth/oidc/callback`,
        code_challenge_method: 'S256',
        scope: 'openid email profile',
      });
      expect(q.code_challenge).to.match(/^[\w-]{43}$/);
      expect(q.state).to.match(/^[\w-]{43}$/);
      expect(q.nonce).to.match(/^[\w-]{43}$/);
      const cookie = (res.headers['set-cookie'] as string[]).find((c) => c.startsWith('flowrunner_sign_in='))!;
      expect(cookie)
        .to.match(/HttpOnly/)
        .and.match(/SameSite=Lax/)
        .and.match(/Path=\/api\/v1\/auth\/oidc/);
    });

    it('refuses a state without its browser cookie, and a state twice (400 state_mismatch)', async () => {
      const start = await anonymous().auth.startOidcSignIn({}, { maxRedirects: 0, validateStatus: (s) => s === 302 });
      const state = new URL(start.headers.location as string).searchParams.get('state')!;
      const cookie = (start.headers['set-cookie'] as string[])[0].split(';')[0];
      const withoutCookie = await expectError(
        anonymous().auth.finishOidcSignIn({ code: 'some-code', state }, { maxRedirects: 0 }),
        400,
        'invalid_request',
      );
      expect(withoutCookie.details).to.include({ reason: 'state_mismatch', field: 'state' });
      // The first answer used the state up: even its own browser cannot use it again.
      await expectError(
        anonymous().auth.finishOidcSignIn({ code: 'some-code', state }, { maxRedirects: 0, headers: { cookie } }),
        400,
        'invalid_request',
      );
    });

    it('answers no token to a browser without a finished sign-in (401), and 404 where sign-in is not configured', async () => {
      const error = await expectError(anonymous().auth.createOidcSession(), 401, 'unauthorized');
      expect(error.details).to.include({ reason: 'no_sign_in' });
      const plain = await startTestServer();
      try {
        const { data } = await apiClient(plain.url).auth.getSignInOptions();
        expect(data).to.deep.equal({ password: true, identity_provider: null, docs_private: false });
        await expectError(apiClient(plain.url).auth.startOidcSignIn(), 404, 'not_found');
        await expectError(apiClient(plain.url).auth.createOidcSession(), 404, 'not_found');
      } finally {
        await plain.close();
      }
    });

    it('answers 503 when the identity provider cannot be reached, to an API client in JSON', async () => {
      const error = await expectError(apiClient(down.url).auth.startOidcSignIn(), 503, 'unavailable');
      expect(error.message).to.contain('Test SSO could not be reached');
    });
  });

  describe('in the browser', () => {
    const ada = { email: uniqueEmail('ada-sso'), name: 'Ada Sso' };
    let adaLogin: string;
    let adaAccount: string;
    let context: BrowserContext;
    let page: Page;
    before(async () => {
      adaLogin = idp.addUser({ ...ada, email_verified: true });
      ({ context, page } = await newPage());
    });
    after(() => context?.close());

    it('signs in with the identity provider and holds a FlowRunner token for a new account', async () => {
      await page.goto(`${publicUrl}/console`);
      await page.getByRole('link', { name: 'Sign in with Test SSO' }).click();
      await page.waitForURL((url) => url.origin === idp.issuer);
      await signInAtProvider(page, adaLogin);
      await page.getByRole('heading', { name: 'Flows' }).waitFor();
      const token = await storedToken(page);
      expect(token).to.be.a('string');
      expect(page.url()).not.to.include(token!);
      expect(page.url()).not.to.include('code=');
      const { data: me } = await apiClient(server.url, { token: token! }).users.getCurrentUser();
      expect(me).to.deep.include({
        email: ada.email,
        name: ada.name,
        external_issuer: idp.issuer,
        external_id: adaLogin,
        authenticated_via: 'token',
      });
      adaAccount = me.id;
      // The docs are private here: the same token is the docs' session cookie, which no script reads.
      const docs = (await context.cookies(publicUrl)).find((c) => c.name === 'flowrunner_session');
      expect(docs).to.include({ value: token, httpOnly: true });
    });

    it('logs out here (the token is revoked) and at the provider, back to the sign-in page', async () => {
      const token = await storedToken(page);
      await page.getByRole('button', { name: 'Log out' }).click();
      // The provider asks before it ends its own session.
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL(`${publicUrl}/console`);
      await page.getByRole('heading', { name: 'Log in to FlowRunner' }).waitFor();
      expect(await storedToken(page)).to.equal(null);
      expect((await context.cookies(publicUrl)).map((c) => c.name)).not.to.include('flowrunner_session');
      await expectError(apiClient(server.url, { token: token! }).users.getCurrentUser(), 401, 'unauthorized');
    });

    it('signs in again (the provider asks for the login again) into the same account', async () => {
      await page.getByRole('link', { name: 'Sign in with Test SSO' }).click();
      await page.locator('input[name=login]').waitFor();
      await signInAtProvider(page, adaLogin);
      await page.getByRole('heading', { name: 'Flows' }).waitFor();
      const { data: me } = await apiClient(server.url, { token: (await storedToken(page))! }).users.getCurrentUser();
      expect(me.id).to.equal(adaAccount);
    });

    it('shows a page, not an error body, when the person cancels at the provider (403)', async () => {
      const { context: other, page: p } = await newPage();
      try {
        await p.goto(`${publicUrl}/console`);
        await p.getByRole('link', { name: 'Sign in with Test SSO' }).click();
        await p.locator('input[name=login]').waitFor();
        const answer = p.waitForResponse((r) => r.url().startsWith(`${publicUrl}/api/v1/auth/oidc/callback`));
        await p.getByRole('link', { name: '[ Cancel ]' }).click();
        expect((await answer).status()).to.equal(403);
        await p.getByRole('heading', { name: 'Sign-in was refused' }).waitFor();
        expect(await p.getByRole('alert').innerText()).to.contain('Sign-in was refused at Test SSO');
        await p.getByRole('link', { name: 'Back to sign-in' }).click();
        await p.getByRole('heading', { name: 'Log in to FlowRunner' }).waitFor();
      } finally {
        await other.close();
      }
    });

    it('shows a page for a forged state (400) and for a provider that is down (503)', async () => {
      const { context: other, page: p } = await newPage();
      try {
        const forged = await p.goto(`${publicUrl}/api/v1/auth/oidc/callback?code=stolen&state=forged&session_state=x`);
        expect(forged!.status()).to.equal(400);
        await p.getByRole('heading', { name: 'Sign-in did not complete' }).waitFor();
        expect(await p.getByRole('alert').innerText()).to.contain('start signing in again');
        const unreachable = await p.goto(`${down.url}/api/v1/auth/oidc/authorize`);
        expect(unreachable!.status()).to.equal(503);
        await p.getByRole('heading', { name: 'The identity provider is not reachable' }).waitFor();
      } finally {
        await other.close();
      }
    });
  });

  describe('a public client', () => {
    it('signs in with PKCE alone (no client secret)', async () => {
      const carol = idp.addUser({ email: uniqueEmail('carol-sso'), name: 'Carol Sso' });
      const { context, page } = await newPage();
      try {
        await page.goto(`${publicClient.url}/console`);
        await page.getByRole('link', { name: 'Sign in with Test SSO' }).click();
        await page.locator('input[name=login]').waitFor();
        await signInAtProvider(page, carol, publicClient.url);
        await page.getByRole('heading', { name: 'Flows' }).waitFor();
        const token = (await storedToken(page))!;
        const { data: me } = await apiClient(publicClient.url, { token }).users.getCurrentUser();
        expect(me).to.include({ external_id: carol, name: 'Carol Sso' });
      } finally {
        await context.close();
      }
    });
  });

  describe('private docs', () => {
    it('sends a browser through the same sign-in to /docs, and refuses the spec to a caller without credentials', async function () {
      // Redoc renders the whole spec in the page: tens of seconds on a busy two-core machine.
      this.timeout(240_000);
      // An admin at the provider: the session's account takes the role the ID token gives.
      const bob = idp.addUser({ email: uniqueEmail('bob-sso'), name: 'Bob Sso', roles: ['flowrunner-admin'] });
      const spec = await fetch(`${server.url}/openapi.json`);
      expect(spec.status).to.equal(401);
      const { context, page } = await newPage();
      try {
        await page.goto(`${publicUrl}/docs`);
        await page.waitForURL((url) => url.origin === idp.issuer);
        await signInAtProvider(page, bob);
        await page.waitForURL(`${publicUrl}/docs`);
        await page.getByRole('heading', { name: `FlowRunner API (${CONTRACT_VERSION})` }).waitFor({ timeout: 180_000 });
        // Redoc read the spec with the session cookie; so can the page.
        const status = await page.evaluate<number>("fetch('/openapi.json').then((r) => r.status)");
        expect(status).to.equal(200);
        const cookies = await context.cookies(publicUrl);
        const session = cookies.find((c) => c.name === 'flowrunner_session')!;
        expect(session).to.include({ httpOnly: true, sameSite: 'Lax' });
        // The cookie holds a token of ours, for Bob's new account; by header it opens the spec too.
        const { data: me } = await apiClient(server.url, { token: session.value }).users.getCurrentUser();
        expect(me).to.include({ external_id: bob, role: 'admin', authenticated_via: 'token' });
        const byHeader = await fetch(`${server.url}/openapi.yaml`, {
          headers: { authorization: `Bearer ${session.value}` },
        });
        expect(byHeader.status).to.equal(200);
      } finally {
        await context.close();
      }
    });
  });
});
