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
    await owner.client.executions.runFlow({ id: flowId, runFlowRequest: {}, idempotencyKey: 'old-key' });
    await owner.client.executions.runFlow({ id: flowId, runFlowRequest: {}, idempotencyKey: 'new-key' });
    const db = server.db;
    await db('idempotency_keys')
      .where({ account_id: owner.account.id, key: 'old-key' })
      .update({ created_at: db.raw("now() - interval '25 hours'") });
    await db('revoked_tokens').insert([
      { jti: 'hk-old', expires_at: new Date(Date.now() - 1000) },
      { jti: 'hk-live', expires_at: new Date(Date.now() + 60_000) },
    ]);
    await db('login_failures').insert([
      { key: 'pair:hk-old@example.com 127.0.0.1', failures: 2, last_failed_at: new Date(Date.now() - 3600_000) },
      {
        key: 'pair:hk-locked@example.com 127.0.0.1',
        failures: 7,
        last_failed_at: new Date(Date.now() - 3600_000),
        locked_until: new Date(Date.now() + 60_000),
      },
      {
        // Its lock ended less than a window ago: the next failure must still double it.
        key: 'pair:hk-recent-lock@example.com 127.0.0.1',
        failures: 7,
        last_failed_at: new Date(Date.now() - 3600_000),
        locked_until: new Date(Date.now() - 60_000),
      },
    ]);
    await sweep(db, 900);
    expect((await db('idempotency_keys').where({ account_id: owner.account.id })).map((r) => r.key)).to.deep.equal([
      'new-key',
    ]);
    expect((await db('revoked_tokens').whereIn('jti', ['hk-old', 'hk-live'])).map((r) => r.jti)).to.deep.equal([
      'hk-live',
    ]);
    expect(
      (await db('login_failures').where('key', 'like', 'pair:hk-%').orderBy('key')).map((r) => r.key),
    ).to.deep.equal(['pair:hk-locked@example.com 127.0.0.1', 'pair:hk-recent-lock@example.com 127.0.0.1']);
  });
});
