/**
 * The zero-setup start after a crash, tried as it happens: the Node process killed and PostgreSQL
 * left running, a pid file of a server that is gone, a start that fails, `npm start` stopped by its
 * PID. One data folder for the file, initialised by the first start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { expect } from 'chai';
import { eventually } from '../support/eventually';

const root = path.resolve(__dirname, '../..');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie nobody reaped (PID 1 in a container may not) is gone too.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

describe('embedded PostgreSQL after a crash', function () {
  this.timeout(240_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-crash-'));
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  const postmasterPid = () => Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (fs.existsSync(pidFile) && alive(postmasterPid())) process.kill(postmasterPid(), 'SIGQUIT');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** `npm start` or node on src/main.ts, as a user runs it: embedded PostgreSQL (no DATABASE_URL). */
  function launch(command: string, args: string[], env: Record<string, string> = {}): Started {
    const childEnv: Record<string, string | undefined> = {
      ...process.env,
      FLOWRUNNER_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FLOWRUNNER_ADMIN_EMAIL: 'boss@example.com',
      FLOWRUNNER_ADMIN_PASSWORD: 'a-good-password',
      ...env,
    };
    delete childEnv.DATABASE_URL;
    const child = spawn(command, args, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, output: () => out, exited };
  }
  const node = (env?: Record<string, string>) =>
    launch(process.execPath, ['--import', 'tsx', 'src/main.ts', 'api'], env);

  async function running(p: Started): Promise<string> {
    const match = await eventually(
      () => {
        if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode}: ${p.output()}`);
        return /API: +(http:\/\/\S+)\/api\/v1/.exec(p.output()) ?? false;
      },
      { timeout: 90_000, interval: 100, what: 'FlowRunner to say it is running' },
    );
    return match[1];
  }

  async function login(url: string): Promise<string> {
    const res = await axios.post(`${url}/api/v1/auth/login`, {
      username: 'boss@example.com',
      password: 'a-good-password',
    });
    return res.data.token;
  }

  async function stopped(p: Started, pid: number): Promise<void> {
    await eventually(() => !alive(pid) && !fs.existsSync(pidFile), {
      timeout: 30_000,
      interval: 100,
      what: `PostgreSQL (pid ${pid}) to stop and remove its pid file`,
    });
    await p.exited;
  }

  it('starts again, data kept, after the Node process was killed and PostgreSQL left running', async () => {
    const first = node();
    const url = await running(first);
    const token = await login(url);
    await axios.post(`${url}/api/v1/api-keys`, { name: 'kept' }, { headers: { authorization: `Bearer ${token}` } });
    const orphan = postmasterPid();
    first.child.kill('SIGKILL');
    await first.exited;
    expect(alive(orphan), 'PostgreSQL outlives the killed Node process').to.equal(true);

    const second = node();
    const again = await running(second);
    expect(alive(orphan), 'the orphan was stopped').to.equal(false);
    const keys = await axios.get(`${again}/api/v1/api-keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(keys.data.api_keys.map((k: { name: string }) => k.name)).to.deep.equal(['kept']);
    const pid = postmasterPid();
    second.child.kill('SIGTERM');
    await stopped(second, pid);
  });

  it('starts with a postmaster.pid left by a server that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(gone.stdout);
    expect(alive(deadPid)).to.equal(false);
    fs.writeFileSync(pidFile, `${deadPid}\n${path.join(dataDir, 'postgres')}\n1700000000\n5432\n/tmp\nlocalhost\n`);
    const p = node();
    await login(await running(p));
    const pid = postmasterPid();
    expect(pid).to.not.equal(deadPid);
    p.child.kill('SIGTERM');
    await stopped(p, pid);
  });

  it('prints the real cause when PostgreSQL refuses to start, not "undefined"', async () => {
    const versionFile = path.join(dataDir, 'postgres', 'PG_VERSION');
    const version = fs.readFileSync(versionFile, 'utf8');
    fs.writeFileSync(versionFile, '9.1\n');
    try {
      const p = node();
      expect(await p.exited).to.equal(1);
      expect(p.output()).to.include('FlowRunner failed to start: Error: embedded PostgreSQL');
      expect(p.output()).to.match(/FATAL/);
      expect(p.output()).to.not.include('undefined');
    } finally {
      fs.writeFileSync(versionFile, version);
    }
  });

  it('prints the real cause when the data folder is a file', async () => {
    const file = path.join(os.tmpdir(), `flowrunner-not-a-dir-${process.pid}`);
    fs.writeFileSync(file, 'not a folder');
    try {
      const p = node({ FLOWRUNNER_DATA_DIR: file });
      expect(await p.exited).to.equal(1);
      expect(p.output()).to.match(/FlowRunner failed to start: Error: E(EXIST|NOTDIR): /);
      expect(p.output()).to.include(file);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to \`npm start\`'s own PID stops every process it started, PostgreSQL included`, async () => {
      const npm = launch('npm', ['start', '--', 'api']);
      await login(await running(npm));
      const pid = postmasterPid();
      const tree = spawnSync('ps', ['-o', 'pid=', '--ppid', String(npm.child.pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .map(Number)
        .filter(Boolean);
      npm.child.kill(signal);
      await stopped(npm, pid);
      await eventually(() => tree.every((p) => !alive(p)), {
        timeout: 10_000,
        what: `the processes under npm (${tree.join(', ')}) to exit`,
      });
    });
  }
});
