/** An in-process FlowRunner on an ephemeral port, over the test database, responses validated. */
import crypto from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '../../src/config';
import { createKnex, type Knex } from '../../src/db/knex';
import { startEngine, type Engine } from '../../src/engine';
import { createHttpServer } from '../../src/http/app';
import { createLogger } from '../../src/log';
import { attachRealtime } from '../../src/realtime';
import { createServices, type Services } from '../../src/services';
import { testDatabaseUrl } from './database';

export interface TestServer {
  url: string;
  engine: Engine;
  db: Knex;
  services: Services;
  config: Config;
  close(): Promise<void>;
}

export const TEST_JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789';
export const TEST_ENCRYPTION_KEY = crypto.createHash('sha256').update('flowrunner-test').digest();

export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({
    DATABASE_URL: testDatabaseUrl(),
    FLOWRUNNER_DATA_DIR: path.join(os.tmpdir(), 'flowrunner-test-data'),
    FLOWRUNNER_JWT_SECRET: TEST_JWT_SECRET,
    FLOWRUNNER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
    FLOWRUNNER_VALIDATE_RESPONSES: 'true',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
}

/** Loopback is allowed for outbound HTTP so flows can call the tests' own targets. */
export async function startTestServer(
  env: Record<string, string> = {},
  databaseUrl?: string,
  opts: { worker?: boolean; port?: number } = {},
): Promise<TestServer> {
  const config = testConfig({ FLOWRUNNER_HTTP_ALLOW: '127.0.0.1', FLOWRUNNER_LEASE_MS: '5000', ...env });
  const log = createLogger(config.logLevel);
  const db = createKnex(databaseUrl ?? config.databaseUrl!, 5, log);
  const services = createServices(db, config, log, {
    jwtSecret: TEST_JWT_SECRET,
    encryptionKey: TEST_ENCRYPTION_KEY,
  });
  const engine = await startEngine(db, databaseUrl ?? config.databaseUrl!, services, config, log, {
    worker: opts.worker ?? true,
  });
  const server = createHttpServer(services);
  const realtime = attachRealtime(server, services, engine.notifier, log);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    db,
    engine,
    services,
    config,
    close: async () => {
      await realtime.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.stop();
      await db.destroy();
    },
  };
}

/** A port free on loopback now (for a server whose URL must be known before it starts: its public URL). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
