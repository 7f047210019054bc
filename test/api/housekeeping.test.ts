import { expect } from 'chai';
import { sweep } from '../../src/engine/housekeeping';
import { makeAccount, makeFlow } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('housekeeping', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('drops expired revocations, idempotency keys and login counters, and keeps live ones', async () => {
    const owner = await makeAccount(server);
    const flowId = await makeFlow(owner, 'nodes:\n  start:\n    type: log\n    params: {message: x}\n');
    await owner.client.executions.runFlow(flowId, {}, 'old-key');
    await owner.client.executions.runFlow(flowId, {}, 'new-key');
    const db = server.db;
    await db('idempotency_keys')
      .where({ account_id: owner.account.id, key: 'old-key' })
      .update({ created_at: db.raw("now() - interval '25 hours'") });
    await db('revoked_tokens').insert([
      { jti: 'hk-old', expires_at: new Date(Date.now() - 1000) },
      { jti: 'hk-live', expires_at: new Date(Date.now() + 60_000) },
    ]);
    await db('login_failures').insert([
      { key: 'user:hk-old@example.com', failures: 2, window_started_at: new Date(Date.now() - 3600_000) },
      {
        key: 'user:hk-locked@example.com',
        failures: 0,
        window_started_at: new Date(Date.now() - 3600_000),
        locked_until: new Date(Date.now() + 60_000),
      },
    ]);
    await sweep(db, 900);
    expect((await db('idempotency_keys').where({ account_id: owner.account.id })).map((r) => r.key)).to.deep.equal([
      'new-key',
    ]);
    expect((await db('revoked_tokens').whereIn('jti', ['hk-old', 'hk-live'])).map((r) => r.jti)).to.deep.equal([
      'hk-live',
    ]);
    expect((await db('login_failures').where('key', 'like', 'user:hk-%')).map((r) => r.key)).to.deep.equal([
      'user:hk-locked@example.com',
    ]);
  });
});
