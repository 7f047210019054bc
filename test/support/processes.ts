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
  /** Resolves once the process has written `text` (stdout or stderr). */
  waitForOutput(text: string, timeout: number): Promise<void>;
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
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  /** Resolves once the output contains `text`; rejects if the process exits first or time runs out. */
  const waitForOutput = (text: string, timeout: number) =>
    new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const check = () => out.includes(text) && settle();
      const onExit = (code: number | null) =>
        settle(new Error(`${role} exited (${code}) before saying "${text}": ${out}`));
      const timer = setTimeout(
        () => settle(new Error(`${role} did not say "${text}" within ${timeout} ms: ${out}`)),
        timeout,
      );
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.on('exit', onExit);
      check();
    });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  try {
    // Ready once it says so (after its signal handlers are installed).
    await waitForOutput('FlowRunner is running', 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    url: role === 'worker' ? undefined : `http://127.0.0.1:${port}`,
    output: () => out,
    waitForOutput,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
