/**
 * The caches in front of authentication, starts and secrets, over two API processes on one
 * database (two Knex pools, two LISTEN connections, two invalidation buses): a change through
 * one is seen by the same process at once and by the other once its notification arrives.
 */
import { expect } from 'chai';
import type { Knex } from '../../src/db/knex';
import { apiClient, expectError } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { personalOrganizationId } from '../../src/services/ownership';

const FLOW = 'nodes:\n  start:\n    type: log\n    params: {message: first}\n';
const FLOW_V2 = 'nodes:\n  start:\n    type: log\n    params: {message: second}\n';
const NOTIFIED = { timeout: 10_000 };

/** The SQL `db` runs while `work` does. */
async function queriesDuring(db: Knex, work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const record = (q: { sql: string }) => seen.push(q.sql);
  db.on('query', record);
  try {
    await work();
  } finally {
    db.off('query', record);
  }
  return seen;
}

describe('caches across processes', () => {
  // No workers: executions stay queued and nothing but the requests queries the databases.
  let a: TestServer;
  let b: TestServer;
  let admin: TestAccount;
  before(async () => {
    a = await startTestServer({}, undefined, { worker: false });
    b = await startTestServer({}, undefined, { worker: false });
    admin = await makeAccount(a, { role: 'admin' });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  /** The same account as `who`, talking to server `s`. */
  const on = (s: TestServer, who: { token: string } | { apiKey: string }) => apiClient(s.url, who);

  it('serves a finished execution from memory; a change to its row or its purge, anywhere, is seen', async () => {
    const owner = await makeAccount(a);
    const flowId = await makeFlow(owner, FLOW);
    const onA = on(a, { token: owner.token });
    const onB = on(b, { token: owner.token });
    const { data } = await onA.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    const id = data.execution_id;
    // No worker runs it: it ends here, as a worker's step would end it.
    await a.db('executions').where({ id }).update({ status: 'completed', result: 1, completed_at: new Date() });
    expect((await onA.executions.getExecution({ id })).data.result).to.equal(1);
    const reads = await queriesDuring(a.db, () => onA.executions.getExecution({ id }));
    expect(reads, 'a second GET of a finished execution').to.deep.equal([]);

    // Changed by any process (here: the database itself), the cached row goes when the trigger's NOTIFY arrives.
    await b.db('executions').where({ id }).update({ result: 2 });
    await eventually(async () => expect((await onA.executions.getExecution({ id })).data.result).to.equal(2), {
      ...NOTIFIED,
      what: 'process A to read the changed row',
    });
    // Purged through B: A answers 404 once B's change is announced; B at once.
    await onB.executions.purgeExecution({ id });
    await expectError(onB.executions.getExecution({ id }), 404, 'not_found');
    await eventually(() => expectError(onA.executions.getExecution({ id }), 404, 'not_found'), {
      ...NOTIFIED,
      what: 'process A to forget the purged execution',
    });
  });

  it('reads only the execution for an authenticated GET of one, and nothing before a start', async () => {
    const owner = await makeAccount(b);
    const flowId = await makeFlow(owner, FLOW);
    const client = on(b, { token: owner.token });
    const { data } = await client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await client.executions.getExecution({ id: data.execution_id }); // warms the account's masker

    const reads = await queriesDuring(b.db, () => client.executions.getExecution({ id: data.execution_id }));
    expect(reads).to.have.length(1);
    expect(reads[0]).to.match(/from "?executions"? where/);

    const start = await queriesDuring(b.db, () =>
      client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } }),
    );
    // One statement inserts the start (atomic on its own): no read, no transaction around it.
    expect(start).to.have.length(1);
    expect(start[0]).to.match(/insert into executions/);
  });

  it('refuses a token logged out in the other process, and in its own at once', async () => {
    const user = await makeAccount(a);
    expect((await on(b, user).users.getCurrentUser()).status).to.equal(200);
    await on(a, user).auth.logout();
    await expectError(on(a, user).users.getCurrentUser(), 401, 'unauthorized');
    await eventually(() => expectError(on(b, user).users.getCurrentUser(), 401, 'unauthorized'), {
      ...NOTIFIED,
      what: 'the other process to refuse the logged-out token',
    });
  });

  it('refuses the old token after a refresh in the other process', async () => {
    const user = await makeAccount(a);
    await on(b, user).users.getCurrentUser();
    const { data } = await on(a, user).auth.refreshToken();
    await eventually(() => expectError(on(b, user).users.getCurrentUser(), 401, 'unauthorized'), {
      ...NOTIFIED,
      what: 'the other process to refuse the refreshed-away token',
    });
    expect((await on(b, { token: data.token }).users.getCurrentUser()).status).to.equal(200);
  });

  it('applies a role change in both processes', async () => {
    const user = await makeAccount(a);
    await expectError(on(a, user).accounts.listAccounts(), 403, 'forbidden');
    await expectError(on(b, user).accounts.listAccounts(), 403, 'forbidden');
    await admin.client.accounts.updateAccount({ id: user.account.id, accountUpdate: { role: 'admin' } });
    expect((await on(a, user).accounts.listAccounts()).status).to.equal(200);
    await eventually(async () => expect((await on(b, user).accounts.listAccounts()).status).to.equal(200), {
      ...NOTIFIED,
      what: 'the other process to see the promotion',
    });
    await on(b, { token: admin.token }).accounts.updateAccount({
      id: user.account.id,
      accountUpdate: { role: 'user' },
    });
    await expectError(on(b, user).accounts.listAccounts(), 403, 'forbidden');
    await eventually(() => expectError(on(a, user).accounts.listAccounts(), 403, 'forbidden'), {
      ...NOTIFIED,
      what: 'the first process to see the demotion',
    });
  });

  it("refuses a deleted account's token and API key in both processes", async () => {
    const doomed = await makeAccount(a);
    const { data: key } = await doomed.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'k' } });
    for (const s of [a, b]) {
      await on(s, doomed).users.getCurrentUser();
      await on(s, { apiKey: key.key }).users.getCurrentUser();
    }
    await admin.client.accounts.deleteAccount({ id: doomed.account.id });
    for (const s of [a, b]) {
      await eventually(
        async () => {
          await expectError(on(s, doomed).users.getCurrentUser(), 401, 'unauthorized');
          await expectError(on(s, { apiKey: key.key }).users.getCurrentUser(), 401, 'unauthorized');
        },
        { ...NOTIFIED, what: `${s === a ? 'the same' : 'the other'} process to refuse the deleted account` },
      );
    }
  });

  it('refuses an API key revoked in the other process, and in its own at once', async () => {
    const user = await makeAccount(a);
    const { data: key } = await user.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'ci' } });
    const byKey = (s: TestServer) => on(s, { apiKey: key.key });
    expect((await byKey(a).users.getCurrentUser()).status).to.equal(200);
    expect((await byKey(b).users.getCurrentUser()).status).to.equal(200);
    await user.client.apiKeys.deleteApiKey({ id: key.id });
    await expectError(byKey(a).users.getCurrentUser(), 401, 'unauthorized');
    await eventually(() => expectError(byKey(b).users.getCurrentUser(), 401, 'unauthorized'), {
      ...NOTIFIED,
      what: 'the other process to refuse the revoked key',
    });
  });

  it('masks a secret set a moment ago, in the same process at once and in the other when notified', async () => {
    const user = await makeAccount(a);
    const flowId = await makeFlow(user, FLOW);
    const value = 'freshly-made-secret-4711';
    const { data } = await user.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { note: value } } });
    const inputOn = async (s: TestServer) =>
      (await on(s, user).executions.getExecution({ id: data.execution_id })).data.input as { note: string };
    // Read once in each process, so each holds the account's masker from before the secret.
    expect((await inputOn(a)).note).to.equal(value);
    expect((await inputOn(b)).note).to.equal(value);
    await user.client.secrets.putSecret({ accountId: user.account.id, secretWrite: { key: 'FRESH', value } });
    expect((await inputOn(a)).note).to.equal('***');
    expect((await a.services.secrets.resolveForRun(personalOrganizationId(user.account.id))).values.FRESH).to.equal(
      value,
    );
    await eventually(async () => expect((await inputOn(b)).note).to.equal('***'), {
      ...NOTIFIED,
      what: 'the other process to mask the new secret',
    });
    await user.client.secrets.deleteSecret({ accountId: user.account.id, key: 'FRESH' });
    expect(
      (await a.services.secrets.resolveForRun(personalOrganizationId(user.account.id))).values,
    ).not.to.have.property('FRESH');
    await eventually(
      async () =>
        expect(
          (await b.services.secrets.resolveForRun(personalOrganizationId(user.account.id))).values,
        ).not.to.have.property('FRESH'),
      { ...NOTIFIED, what: 'the other process to drop the deleted secret' },
    );
  });

  it('pins the new version at the next start, in both processes', async () => {
    const user = await makeAccount(a);
    const flowId = await makeFlow(user, FLOW);
    const versionOfRun = async (s: TestServer) => {
      const { data } = await on(s, user).executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
      return (await on(s, user).executions.getExecution({ id: data.execution_id })).data.flow_version;
    };
    expect(await versionOfRun(a)).to.equal(1);
    expect(await versionOfRun(b)).to.equal(1);
    await user.client.flows.updateFlow({ id: flowId, flowUpdate: { definition: FLOW_V2 } });
    expect(await versionOfRun(a)).to.equal(2);
    await eventually(async () => expect(await versionOfRun(b)).to.equal(2), {
      ...NOTIFIED,
      what: 'the other process to start the new version',
    });
  });

  it('cannot start a deleted flow, in either process', async () => {
    const user = await makeAccount(a);
    const flowId = await makeFlow(user, FLOW);
    for (const s of [a, b]) await on(s, user).executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await user.client.flows.deleteFlow({ id: flowId });
    await expectError(on(a, user).executions.runFlow({ id: flowId, runFlowRequest: { input: {} } }), 404, 'not_found');
    await eventually(
      () =>
        expectError(on(b, user).executions.runFlow({ id: flowId, runFlowRequest: { input: {} } }), 404, 'not_found'),
      {
        ...NOTIFIED,
        what: 'the other process to refuse the deleted flow',
      },
    );
  });

  it('checks revocations in the database until they are loaded, then in memory', async () => {
    const user = await makeAccount(a);
    await on(a, user).users.getCurrentUser();
    // A lost LISTEN connection empties every cache: the next request must read, not trust memory.
    a.services.invalidations.disconnected();
    const cold = await queriesDuring(a.db, () => on(a, user).users.getCurrentUser());
    expect(cold.some((sql) => /revoked_tokens/.test(sql))).to.equal(true);
    a.services.invalidations.connected();
    await eventually(
      async () => {
        const warm = await queriesDuring(a.db, () => on(a, user).users.getCurrentUser());
        return !warm.some((sql) => /revoked_tokens/.test(sql));
      },
      { ...NOTIFIED, what: 'revocations to be held in memory again' },
    );
  });
});
