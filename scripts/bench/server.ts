/**
 * The FlowRunner process under test, as `npm start -- all` runs it (API and worker, `start` of
 * src/main.ts) on the scratch database, with what the benchmark needs from inside: statement
 * counts, the process's CPU time and, on request, a CPU profile. Forked by `BenchServer`
 * (processes.ts) and driven over IPC; it never shares an event loop with the load generator.
 */
import fs from 'node:fs';
import { Session, type Profiler } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { start } from '../../src/main';
import { childrenCpuMs, childrenCpuDelta } from './profile';
import { counts, countStatements } from './statements';

export type ServerCommand = 'counts' | 'profile-start' | 'profile-stop' | 'stop';

export interface ServerCounts {
  statements: typeof counts;
  /** User + system CPU of this process, in ms. */
  cpuMs: number;
  /** CPU of its child processes (the expression sandbox), in ms. */
  childrenCpuMs: number;
}

let session: Session | undefined;
let childrenAtStart = new Map<number, number>();

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session!.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))),
  );
}

function snapshot(): ServerCounts {
  const cpu = process.cpuUsage();
  const children = [...childrenCpuMs(process.pid).values()].reduce((a, b) => a + b, 0);
  return { statements: { ...counts }, cpuMs: (cpu.user + cpu.system) / 1000, childrenCpuMs: children };
}

async function main() {
  countStatements();
  const cfg = parseConfig(process.env);
  const running = await start(cfg, 'all', createLogger(cfg.logLevel));
  const handlers: Record<ServerCommand, () => Promise<unknown>> = {
    counts: async () => snapshot(),
    'profile-start': async () => {
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.start');
      childrenAtStart = childrenCpuMs(process.pid);
      return null;
    },
    'profile-stop': async () => {
      const { profile } = await post<{ profile: Profiler.Profile }>('Profiler.stop');
      const sandboxMs = childrenCpuDelta(childrenAtStart, childrenCpuMs(process.pid));
      session!.disconnect();
      const file = path.join(os.tmpdir(), `flowrunner-bench-${process.pid}-${Date.now()}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      return { file, sandboxMs };
    },
    stop: async () => {
      await running.stop();
      setImmediate(() => process.exit(0));
      return null;
    },
  };
  process.on('message', (m: { id: number; command: ServerCommand }) => {
    handlers[m.command]().then(
      (result) => process.send!({ id: m.id, result }),
      (err: unknown) => process.send!({ id: m.id, error: String(err) }),
    );
  });
  process.send!({ ready: running.url });
}

main().catch((err) => {
  process.stderr.write(`bench server failed: ${String(err)}\n`);
  process.exit(1);
});
