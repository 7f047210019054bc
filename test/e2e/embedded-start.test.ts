import axios from 'axios';
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { start } from '../../src/main';

describe('zero-setup start on embedded PostgreSQL', function () {
  this.timeout(180_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-embedded-'));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const env = {
    FLOWRUNNER_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    FLOWRUNNER_ADMIN_EMAIL: 'boss@example.com',
    FLOWRUNNER_ADMIN_PASSWORD: 'a-good-password',
  };

  it('starts, keeps its data across a restart, and generates its keys once (0600)', async () => {
    const first = await start(parseConfig(env), 'api', createLogger('silent'));
    let token: string;
    try {
      const login = await axios.post(`${first.url}/api/v1/auth/login`, {
        username: 'boss@example.com',
        password: 'a-good-password',
      });
      token = login.data.token;
      await axios.post(
        `${first.url}/api/v1/api-keys`,
        { name: 'kept' },
        { headers: { authorization: `Bearer ${token}` } },
      );
    } finally {
      await first.stop();
    }
    for (const name of ['jwt-secret', 'encryption-key', 'postgres-password']) {
      expect(fs.statSync(path.join(dataDir, name)).mode & 0o777, name).to.equal(0o600);
    }

    const second = await start(parseConfig(env), 'api', createLogger('silent'));
    try {
      // The same signing key: the token from before the restart still works, and the data is there.
      const keys = await axios.get(`${second.url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${token}` } });
      expect(keys.data.api_keys.map((k: { name: string }) => k.name)).to.deep.equal(['kept']);
      const admins = await second.services.db('accounts').where({ role: 'admin' });
      expect(admins).to.have.length(1);
    } finally {
      await second.stop();
    }
  });
});
