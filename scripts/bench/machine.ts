/**
 * Where the whole machine's CPU goes during a load window, read from /proc (Linux): the server
 * process and its children, PostgreSQL's processes, the load generator, this benchmark process,
 * and everything else; with the machine's idle time. On two cores the server shares the CPU with
 * PostgreSQL and the clients, so an execution's cost is the sum of all three.
 */
import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Proc {
  comm: string;
  ppid: number;
  ticks: number;
  /** Of `ticks`, those spent in the kernel (system calls: sockets, wake-ups). */
  sysTicks: number;
}

export interface MachineSnapshot {
  procs: Map<number, Proc>;
  busy: number;
  idle: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), sysTicks: Number(f[12]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

export function machineSnapshot(): MachineSnapshot | undefined {
  if (!fs.existsSync('/proc/stat')) return undefined;
  const procs = new Map<number, Proc>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) procs.set(Number(name), p);
  }
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  return { procs, busy: cpu.reduce((a, b) => a + b, 0) - idle, idle };
}

/** CPU ms per unit of work between two snapshots, by role. Processes that ended meanwhile are not counted. */
export function machineSplit(
  before: MachineSnapshot | undefined,
  after: MachineSnapshot | undefined,
  roles: { server: number[]; loadgen: number },
  units: number,
  unit = 'execution',
): string | undefined {
  if (!before || !after) return undefined;
  const within = (pid: number, roots: number[]): boolean => {
    for (let p: number | undefined = pid, hops = 0; p && hops < 10; hops++) {
      if (roots.includes(p)) return true;
      p = after.procs.get(p)?.ppid;
    }
    return false;
  };
  const ms = { server: 0, postgres: 0, loadgen: 0, bench: 0, other: 0, serverSys: 0, postgresSys: 0 };
  for (const [pid, p] of after.procs) {
    const used = ((p.ticks - (before.procs.get(pid)?.ticks ?? 0)) * 1000) / TICKS_PER_SECOND;
    if (used <= 0) continue;
    const sys = ((p.sysTicks - (before.procs.get(pid)?.sysTicks ?? 0)) * 1000) / TICKS_PER_SECOND;
    if (within(pid, roles.server)) {
      ms.server += used;
      ms.serverSys += sys;
    } else if (p.comm === 'postgres') {
      ms.postgres += used;
      ms.postgresSys += sys;
    } else if (pid === roles.loadgen) ms.loadgen += used;
    else if (pid === process.pid) ms.bench += used;
    else ms.other += used;
  }
  const per = (v: number) => (v / Math.max(1, units)).toFixed(2);
  const kernel = (sys: number, all: number) => `${((100 * sys) / Math.max(1, all)).toFixed(0)} %`;
  const busy = after.busy - before.busy;
  const idle = after.idle - before.idle;
  return (
    `machine CPU per ${unit}: server ${per(ms.server)} ms (${kernel(ms.serverSys, ms.server)} in the kernel), ` +
    `PostgreSQL ${per(ms.postgres)} ms (${kernel(ms.postgresSys, ms.postgres)} in the kernel), ` +
    `load generator ${per(ms.loadgen)} ms, benchmark process ${per(ms.bench)} ms, other processes ${per(ms.other)} ms; ` +
    `machine idle ${((100 * idle) / Math.max(1, busy + idle)).toFixed(0)} %`
  );
}
