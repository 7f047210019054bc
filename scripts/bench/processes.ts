/**
 * The processes a benchmark run starts besides itself: the FlowRunner server under test (the
 * harness of server.ts), the bare-Express baseline, and real `src/main.ts` processes for
 * scale-out. Each is waited for with a deadline and stopped by its own pid.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ServerCommand, ServerCounts } from './server';

const START_DEADLINE_MS = 120_000;

function deadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

/** Forks a TypeScript entry that sends `{ ready: url }` once it listens. */
function forkReady(file: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(__dirname, file), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
  });
  return deadline(
    file,
    START_DEADLINE_MS,
    new Promise((resolve, reject) => {
      child.once('message', (m: { ready?: string }) => resolve({ child, url: m.ready! }));
      child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    }),
  );
}

/** The FlowRunner process under test (API + worker), with its statement counter and profiler. */
export class BenchServer {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(`bench server: ${m.error}`));
      else w?.resolve(m.result);
    });
  }

  static async start(env: Record<string, string>): Promise<BenchServer> {
    const { child, url } = await forkReady('server.ts', env);
    return new BenchServer(child, url);
  }

  get pid(): number {
    return this.child.pid!;
  }

  private ask<T>(command: ServerCommand): Promise<T> {
    const id = this.next++;
    return deadline(
      `bench server ${command}`,
      60_000,
      new Promise<T>((resolve, reject) => {
        this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
        this.child.send({ id, command });
      }),
    );
  }

  counts = () => this.ask<ServerCounts>('counts');
  profileStart = () => this.ask<null>('profile-start');
  profileStop = () => this.ask<{ file: string; sandboxMs: number }>('profile-stop');

  async stop(): Promise<void> {
    await this.ask('stop').catch(() => this.child.kill('SIGKILL'));
    await deadline('bench server exit', 30_000, exited(this.child)).catch(() => this.child.kill('SIGKILL'));
  }
}

/** The bare-Express baseline server, in a process of its own. */
export async function startBareExpress(): Promise<{ url: string; stop(): Promise<void> }> {
  const { child, url } = await forkReady('bare-express.ts', {});
  return {
    url,
    stop: async () => {
      child.disconnect();
      await deadline('bare express exit', 10_000, exited(child)).catch(() => child.kill('SIGKILL'));
    },
  };
}

/**
 * `node --import tsx src/main.ts <role>`, as `npm start -- <role>` runs it; resolves once it says
 * it is running, with the API's URL for the `api` role.
 */
export async function spawnFlowRunner(
  role: 'api' | 'worker' | 'all',
  env: Record<string, string>,
): Promise<{ url?: string; pid: number; stop(): Promise<void> }> {
  const root = path.resolve(__dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await deadline(
    `flowrunner ${role}`,
    START_DEADLINE_MS,
    new Promise<string | undefined>((resolve, reject) => {
      const look = (chunk: Buffer) => {
        output += chunk.toString();
        if (!output.includes('FlowRunner is running')) return;
        resolve(/API:\s+(http:\/\/\S+)\/api\/v1/.exec(output)?.[1]);
      };
      child.stdout!.on('data', look);
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      child.once('exit', (code) => reject(new Error(`flowrunner ${role} exited (${code}):\n${output}`)));
    }),
  );
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await deadline(`flowrunner ${role} exit`, 30_000, exited(child)).catch(() => child.kill('SIGKILL'));
    },
  };
}
