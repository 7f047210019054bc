import axios from 'axios';
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';
import { createKnex } from '../../src/db/knex';
import { migrateToLatest } from '../../src/db/migrate';
import { createLogger } from '../../src/log';
import { makeAccount, makeFlow, waitForExecution } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('a database restart', function () {
  this.timeout(240_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-restart-'));
  let pg: EmbeddedDatabase;
  let server: TestServer;
  after(async () => {
    await server?.close().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makes the API answer 503 while it is down; workers reconnect and nothing queued is lost', async () => {
    pg = await startEmbeddedPostgres(dir, 'flowrunner', createLogger('silent'));
    const knex = createKnex(pg.url, 2);
    await migrateToLatest(knex);
    await knex.destroy();
    server = await startTestServer({}, pg.url);
    const owner = await makeAccount(server);
    const flowId = await makeFlow(
      owner,
      'nodes:\n  start:\n    type: delay\n    params: {ms: 1500}\n    next: done\n  done:\n    type: transform\n    params: {expression: "\'survived\'"}\n',
    );
    const { data } = await owner.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    // Let the delay start sleeping, then take the database away.
    await waitForExecution(owner, data.execution_id, ['running']);

    const port = new URL(pg.url).port;
    await pg.stop();
    const down = await axios.get(`${server.url}/api/v1/executions/${data.execution_id}`, {
      headers: { authorization: `Bearer ${owner.token}` },
      validateStatus: () => true,
    });
    expect(down.status).to.equal(503);
    expect(down.data.error.code).to.equal('unavailable');
    expect((await axios.get(`${server.url}/readyz`, { validateStatus: () => true })).status).to.equal(503);

    pg = await startEmbeddedPostgres(dir, 'flowrunner', createLogger('silent'), Number(port));
    expect((await axios.get(`${server.url}/readyz`)).status).to.equal(200);
    const ex = await waitForExecution(owner, data.execution_id);
    expect(ex).to.include({ status: 'completed', result: 'survived' });
  });
});
