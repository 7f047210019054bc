/**
 * Login throttling, tried as the attacker: failures count per (email, address) and per address,
 * a success clears only its own pair, and a lock grows while the guessing goes on.
 */
import http from 'node:http';
import axios from 'axios';
import { expect } from 'chai';
import { eventually } from '../support/eventually';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('login throttling, as an attacker', () => {
  let server: TestServer;
  const agents: http.Agent[] = [];
  before(async () => {
    server = await startTestServer({
      FLOWRUNNER_LOGIN_MAX_FAILURES: '3',
      FLOWRUNNER_LOGIN_LOCK_SECONDS: '30',
      FLOWRUNNER_LOGIN_WINDOW_SECONDS: '900',
    });
  });
  after(async () => {
    for (const agent of agents) agent.destroy();
    await server.close();
  });
  beforeEach(() => server.db('login_failures').delete());

  /** Logs in from `address` (another loopback address is another client to the server). */
  function loginFrom(address: string) {
    const agent = new http.Agent({ localAddress: address });
    agents.push(agent);
    return (username: string, password: string) =>
      axios.post(
        `${server.url}/api/v1/auth/login`,
        { username, password },
        { httpAgent: agent, validateStatus: () => true },
      );
  }
  const attacker = loginFrom('127.0.0.2');
  const owner = loginFrom('127.0.0.3');

  it('keeps counting guesses at B while the attacker logs into A in between, then answers 429', async () => {
    const a: TestAccount = await makeAccount(server);
    const b = await makeAccount(server);
    for (let i = 0; i < 2; i++) {
      expect((await attacker(b.account.email, `guess-${i}`)).status).to.equal(401);
      expect((await attacker(a.account.email, a.password)).status).to.equal(200);
    }
    const third = await attacker(b.account.email, 'guess-2');
    expect(third.status).to.equal(429);
    expect(third.data.error.code).to.equal('rate_limited');
    expect(Number(third.headers['retry-after'])).to.be.within(1, 30);
    // Locked: even B's right password from the attacker's address is refused.
    expect((await attacker(b.account.email, b.password)).status).to.equal(429);
  });

  it('lets the real owner log in from another address during the attacker’s lock', async () => {
    const b = await makeAccount(server);
    for (let i = 0; i < 3; i++) await attacker(b.account.email, `guess-${i}`);
    expect((await attacker(b.account.email, 'guess-3')).status).to.equal(429);
    const res = await owner(b.account.email, b.password);
    expect(res.status).to.equal(200);
    expect(res.data.account_id).to.equal(b.account.id);
    // And the owner's success does not lift the attacker's lock.
    expect((await attacker(b.account.email, b.password)).status).to.equal(429);
  });

  describe('when a lock runs out', () => {
    let shortLocks: TestServer;
    before(async () => {
      shortLocks = await startTestServer({ FLOWRUNNER_LOGIN_MAX_FAILURES: '3', FLOWRUNNER_LOGIN_LOCK_SECONDS: '1' });
    });
    after(() => shortLocks.close());

    it('lets the owner who locked themselves out log in again from the same address, counting from zero', async () => {
      const b = await makeAccount(shortLocks);
      const agent = new http.Agent({ localAddress: '127.0.0.4' });
      agents.push(agent);
      const login = (password: string) =>
        axios.post(
          `${shortLocks.url}/api/v1/auth/login`,
          { username: b.account.email, password },
          { httpAgent: agent, validateStatus: () => true },
        );
      const mistakes = [];
      for (let i = 0; i < 3; i++) mistakes.push((await login(`typo-${i}`)).status);
      expect(mistakes).to.deep.equal([401, 401, 429]);
      expect((await login(b.password)).status).to.equal(429);
      // The lock is real time here (a second), not moved into the past: nothing but the clock lifts it.
      await eventually(async () => expect((await login(b.password)).status).to.equal(200), {
        timeout: 15_000,
        interval: 250,
        what: 'the lock to run out and the right password to be taken',
      });
      // The success cleared the pair: the next mistake is a first one again.
      expect((await login('typo-again')).status).to.equal(401);
    });
  });

  it('doubles the lock with each failure beyond the limit', async () => {
    const b = await makeAccount(server);
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) expect((await attacker(b.account.email, `guess-${i}`)).status).to.equal(401);
    for (let i = 0; i < 3; i++) {
      const res = await attacker(b.account.email, `more-${i}`);
      expect(res.status).to.equal(429);
      waits.push(Number(res.headers['retry-after']));
      // Let the lock pass (moved into the past here) so the next guess is counted.
      await server
        .db('login_failures')
        .where('key', 'like', `pair:${b.account.email} %`)
        .update({ locked_until: new Date(Date.now() - 1000) });
    }
    expect(waits[0]).to.be.within(29, 30);
    expect(waits[1]).to.be.within(59, 60);
    expect(waits[2]).to.be.within(119, 120);
  });

  it('caps the lock at the window', async () => {
    const b = await makeAccount(server);
    for (let i = 0; i < 2; i++) await attacker(b.account.email, `guess-${i}`);
    await server.db('login_failures').where('key', 'like', `pair:${b.account.email} %`).update({ failures: 40 });
    const res = await attacker(b.account.email, 'guess-40');
    expect(res.status).to.equal(429);
    expect(Number(res.headers['retry-after'])).to.be.within(899, 900);
  });

  it('throttles one address guessing across many emails', async () => {
    // 3 × 5 failures from one address, each at a different email, lock the address itself.
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await attacker(`nobody-${i}@example.com`, 'guess')).status);
    expect(statuses.slice(0, 14).every((s) => s === 401)).to.equal(true);
    expect(statuses[14]).to.equal(429);
    const a = await makeAccount(server);
    expect((await attacker(a.account.email, a.password)).status).to.equal(429);
    expect((await owner(a.account.email, a.password)).status).to.equal(200);
  });

  it('answers an unknown email and a wrong password the same way, also when throttled', async () => {
    const b = await makeAccount(server);
    const shape = (res: { status: number; data: unknown; headers: Record<string, unknown> }) => ({
      status: res.status,
      data: res.data,
      retryAfter: res.headers['retry-after'] !== undefined,
    });
    const unknown = 'nobody-at-all@example.com';
    for (let i = 0; i < 2; i++) {
      expect(shape(await attacker(unknown, 'guess'))).to.deep.equal(shape(await attacker(b.account.email, 'guess')));
    }
    const lockedUnknown = shape(await attacker(unknown, 'guess'));
    const lockedKnown = shape(await attacker(b.account.email, 'guess'));
    expect(lockedUnknown.status).to.equal(429);
    expect({ ...lockedUnknown, data: undefined }).to.deep.equal({ ...lockedKnown, data: undefined });
    expect((lockedUnknown.data as { error: { code: string } }).error.code).to.equal(
      (lockedKnown.data as { error: { code: string } }).error.code,
    );
  });
});
