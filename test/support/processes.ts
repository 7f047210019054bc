/** FlowRunner processes (API or worker) started as a user would, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/db/embedded';
import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET } from './server';

const root = path.resolve(__dirname, '../..');

export interface Proc {
  child: ChildProcess;
  url?: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startProcess(
  role: 'api' | 'worker' | 'all',
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Proc> {
  const port = role === 'worker' ? 0 : await freePort();
  // node itself (not npx): the pid we signal is the server's own.
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main.ts', role], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FLOWRUNNER_JWT_SECRET: TEST_JWT_SECRET,
      FLOWRUNNER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
      FLOWRUNNER_ADMIN_PASSWORD: 'an-admin-password',
      FLOWRUNNER_HTTP_ALLOW: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Ready once it says so (after its signal handlers are installed).
  const deadline = Date.now() + 60_000;
  while (!out.includes('FlowRunner is running')) {
    if (child.exitCode !== null) throw new Error(`${role} exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`${role} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url: role === 'worker' ? undefined : `http://127.0.0.1:${port}`,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
