/**
 * A fixed set of child processes that run jobs one at a time each, with the limits a process
 * cannot enforce on itself: a job still working `hardTimeoutMs` after its process started on it
 * gets that process killed, and each process has a heap limit of its own (`--max-old-space-size`):
 * running out of it ends that process, never this one. A lost process is replaced at once; the
 * others, and the jobs queued for them, carry on.
 *
 * The clock starts when the job has been written to the child (not while it waits in the queue),
 * or again when the child reports that it started late (copying a large scope took long); it stops
 * when the answer arrives, or when the child reports that it is done and sends a large answer. A
 * child that takes longer than a watchdog, far longer, to receive or to answer is killed too. The
 * reports are rare: the usual job is one message each way.
 *
 * Why processes and not worker threads: a worker thread that hits its `resourceLimits` with one
 * large allocation (`$pad("", 3e8)` in JSONata) aborts the whole process — Node gives a worker
 * only 16 MB of leeway past its limit before V8's fatal out-of-memory handler runs, and that
 * handler ends every thread. A process boundary is the only heap limit that holds.
 *
 * Idle processes are unref'd: they never keep this process alive, and they exit when it goes
 * (their IPC channel closes).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** The first message a process sends: it has loaded and takes jobs from now on. */
export const READY = 'ready';

/** What the pool sends a child: a job, and when it was sent (so the child knows it came late). */
export interface Envelope<Req> {
  at: number;
  request: Req;
}

/**
 * What a child may send while it works on a job: `STARTED` when the job reached it late, the
 * index of the part (expression) it has started when that is not the first, `DONE` before a
 * large answer.
 */
export interface Progress {
  progress: number;
}

export const STARTED = 0;
export const DONE = -1;
/** A child that received a job later than this after it was sent says when it started. */
export const LATE_MS = 25;

export class PoolLimitError extends Error {
  constructor(
    readonly limit: 'time' | 'memory',
    /** The last part the process reported starting on. */
    readonly progress: number,
  ) {
    super(limit === 'time' ? 'the job overran its time and its process was killed' : 'the job ran out of memory');
  }
}

/** A request that cannot be serialised (a function, a symbol …); no child saw it. */
export class NotSerializableError extends Error {}

export interface PoolOptions {
  /** The child's entry module. */
  file: string;
  processes: number;
  hardTimeoutMs: number;
  /** Node options of each child (heap limit, loaders). */
  execArgv: string[];
  /** Passed to each child as its one argument (JSON). */
  settings: Record<string, unknown>;
}

interface Pending<Req, Res> {
  request: Req;
  resolve(value: Res): void;
  reject(err: Error): void;
}

interface Child<Req, Res> {
  process: ChildProcess;
  ready: boolean;
  gone: boolean;
  progress: number;
  /** The end of its stderr, to explain a process that could not start. */
  stderr: string;
  job?: Pending<Req, Res>;
  timer?: NodeJS.Timeout;
}

export class ProcessPool<Req, Res> {
  private readonly children = new Set<Child<Req, Res>>();
  private readonly queue: Pending<Req, Res>[] = [];
  private closed = false;

  constructor(private readonly opts: PoolOptions) {}

  run(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('the process pool is closed'));
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.fill();
      this.dispatch();
    });
  }

  /** Starts the processes now rather than on the first job. */
  warm(): void {
    this.fill();
  }

  /** Processes alive (starting or ready). */
  get size(): number {
    return this.children.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const children = [...this.children];
    for (const job of this.queue.splice(0)) job.reject(new Error('the process pool is closed'));
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.process.exitCode !== null || c.process.signalCode !== null) return resolve();
            c.process.once('exit', () => resolve());
            this.lose(c, new Error('the process pool is closed'));
            c.process.kill('SIGKILL');
          }),
      ),
    );
  }

  private fill(): void {
    while (!this.closed && this.children.size < this.opts.processes) this.spawn();
  }

  private spawn(): void {
    const proc = fork(this.opts.file, [JSON.stringify(this.opts.settings)], {
      execArgv: this.opts.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // None of the server's environment (database URL, keys): only where temporary files go.
      env: Object.fromEntries(['TMPDIR', 'TEMP', 'TMP'].filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
    });
    const child: Child<Req, Res> = {
      process: proc,
      ready: false,
      gone: false,
      progress: 0,
      stderr: '',
    };
    this.children.add(child);
    proc.stderr?.on('data', (chunk: Buffer) => (child.stderr = (child.stderr + chunk.toString()).slice(-2000)));
    proc.on('message', (message: unknown) => this.onMessage(child, message));
    proc.on('error', (err) => {
      this.lose(child, err);
      proc.kill('SIGKILL');
    });
    proc.on('exit', (code, signal) => {
      // V8's fatal out-of-memory handler aborts: that is the heap limit.
      if (signal === 'SIGABRT' || /heap out of memory|Allocation failed/.test(child.stderr))
        this.lose(child, new PoolLimitError('memory', child.progress));
      else this.lose(child, new Error(`an expression process exited (${signal ?? `code ${code}`})`));
    });
    this.hold(child, false);
  }

  /** A child with work (or one that queued work waits for) keeps this process alive; an idle one does not. */
  private hold(child: Child<Req, Res>, on: boolean): void {
    const handles = [child.process, child.process.channel, child.process.stderr as Socket | null];
    for (const h of handles) {
      if (on) h?.ref();
      else h?.unref();
    }
  }

  private onMessage(child: Child<Req, Res>, message: unknown): void {
    if (child.gone) return;
    if (message === READY) child.ready = true;
    else if (message && typeof message === 'object' && 'progress' in message) {
      const { progress } = message as Progress;
      if (progress === DONE) this.watch(child, this.watchdogMs);
      else if (progress === STARTED) this.watch(child, this.opts.hardTimeoutMs);
      else child.progress = progress;
      return;
    } else {
      const job = child.job;
      clearTimeout(child.timer);
      child.job = undefined;
      job?.resolve(message as Res);
    }
    this.dispatch();
  }

  /** Hands queued jobs to ready, idle children. */
  private dispatch(): void {
    for (const c of this.children) {
      if (this.queue.length === 0) break;
      if (!c.ready || c.job || c.gone) continue;
      const job = this.queue.shift()!;
      const envelope: Envelope<Req> = { at: Date.now(), request: job.request };
      try {
        // The callback runs once the message is written: the job's clock starts there.
        c.process.send(envelope, (err: Error | null) => {
          if (c.job !== job || c.gone) return;
          if (err) this.lose(c, err);
          else this.watch(c, this.opts.hardTimeoutMs);
        });
      } catch (err) {
        // Not serialisable: the child never saw it and stays idle.
        job.reject(new NotSerializableError((err as Error).message));
        continue;
      }
      c.progress = 0;
      c.job = job;
      this.watch(c, this.watchdogMs);
    }
    for (const c of this.children) this.hold(c, Boolean(c.job) || (!c.ready && this.queue.length > 0));
  }

  /** Copying a job's scope in or its result out may take long; never this long. */
  private get watchdogMs(): number {
    return Math.max(30_000, 10 * this.opts.hardTimeoutMs);
  }

  private watch(child: Child<Req, Res>, ms: number): void {
    clearTimeout(child.timer);
    child.timer = setTimeout(() => this.kill(child), ms);
  }

  private kill(child: Child<Req, Res>): void {
    this.lose(child, new PoolLimitError('time', child.progress));
    child.process.kill('SIGKILL');
  }

  /** A child is gone (killed, out of memory, crashed): its job fails, a new child takes its place. */
  private lose(child: Child<Req, Res>, err: Error): void {
    if (child.gone) return;
    child.gone = true;
    this.children.delete(child);
    clearTimeout(child.timer);
    child.job?.reject(err);
    child.job = undefined;
    if (this.closed) return;
    if (!child.ready) {
      // It never started (a broken entry module): no respawn loop. Fail what waits when no other
      // child can take it; the next job tries to start children again.
      if (this.children.size === 0) {
        const why = child.stderr.trim().split('\n').find(Boolean) ?? err.message;
        for (const job of this.queue.splice(0))
          job.reject(new Error(`the expression processes could not start: ${why}`));
      }
      return;
    }
    this.fill();
    this.dispatch();
  }
}
