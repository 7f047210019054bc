import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { preferredWait, waitOf } from '../../src/controllers/waits';
import { createLogger } from '../../src/log';
import { CompletionWaiter } from '../../src/realtime/completion-waiter';
import type { ExecutionRow } from '../../src/db/tables';
import { FINISHED_CHANNEL, FINISHED_HERE } from '../../src/repositories/finished-executions.repository';

const LONG = 60_000;

/** A waiter over a fake LISTEN connection and a fake table: `finished` is what the read finds final. */
function setUp(maxWaiting = 100) {
  const notifier = new EventEmitter();
  const finished = new Set<string>();
  const reads: string[][] = [];
  let pending: Promise<unknown> = Promise.resolve();
  const read = (ids: string[]) => {
    reads.push(ids);
    const result = Promise.resolve(ids.filter((id) => finished.has(id)));
    pending = result;
    return result;
  };
  const waiter = new CompletionWaiter(read, notifier, createLogger('silent'), maxWaiting);
  /** Lets the last read and the wake-ups it causes run. */
  const settle = async () => {
    await pending;
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { notifier, finished, reads, waiter, settle };
}

describe('CompletionWaiter', () => {
  it('checks once right after registering: an execution already final wakes at once', async () => {
    const { finished, waiter } = setUp();
    finished.add('exec-a');
    expect((await waiter.untilFinished('exec-a', LONG, new AbortController().signal)).outcome).to.equal('finished');
    expect(waiter.size).to.equal(0);
  });

  it('wakes every request waiting for a notified execution without a read, and no other', async () => {
    const { notifier, finished, reads, waiter, settle } = setUp();
    const signal = new AbortController().signal;
    const a1 = waiter.untilFinished('exec-a', LONG, signal);
    const a2 = waiter.untilFinished('exec-a', LONG, signal);
    const other = new AbortController();
    const b = waiter.untilFinished('exec-b', LONG, other.signal);
    await settle();
    expect(waiter.size).to.equal(3);
    reads.length = 0;
    finished.add('exec-a');
    notifier.emit(FINISHED_CHANNEL, 'exec-x,exec-a,exec-y');
    expect((await a1).outcome).to.equal('finished');
    expect((await a2).outcome).to.equal('finished');
    // The notification says the execution is final (the trigger sends it after the commit): no read.
    expect(reads).to.deep.equal([]);
    expect(waiter.size).to.equal(1);
    other.abort();
    expect((await b).outcome).to.equal('aborted');
    expect(waiter.size).to.equal(0);
  });

  it('re-checks every waited execution when the LISTEN connection comes back', async () => {
    const { notifier, finished, waiter, settle } = setUp();
    const a = waiter.untilFinished('exec-a', LONG, new AbortController().signal);
    const stillRunning = new AbortController();
    const b = waiter.untilFinished('exec-b', LONG, stillRunning.signal);
    await settle();
    // Finished while the connection was down: its notification is lost.
    finished.add('exec-a');
    notifier.emit('reconnected');
    expect((await a).outcome).to.equal('finished');
    await settle();
    expect(waiter.size).to.equal(1);
    stillRunning.abort();
    expect((await b).outcome).to.equal('aborted');
  });

  it("wakes with the committed row when this process's engine finished it, without a read", async () => {
    const { notifier, reads, waiter, settle } = setUp();
    const waiting = waiter.untilFinished('exec-a', LONG, new AbortController().signal, false);
    await settle();
    const row = { id: 'exec-a', status: 'completed' } as ExecutionRow;
    notifier.emit(FINISHED_HERE, row);
    const woken = await waiting;
    expect(woken.outcome).to.equal('finished');
    expect(woken.execution).to.equal(row);
    // Told it cannot have finished yet, it did not read first.
    expect(reads).to.deep.equal([]);
    expect(waiter.size).to.equal(0);
  });

  it('ends a wait when it runs out, and frees its place', async () => {
    const { waiter } = setUp();
    expect((await waiter.untilFinished('exec-a', 1, new AbortController().signal)).outcome).to.equal('timeout');
    expect(waiter.size).to.equal(0);
  });

  it('beyond its bound answers busy at once, without waiting', async () => {
    const { waiter, reads, settle } = setUp(1);
    const first = new AbortController();
    const waiting = waiter.untilFinished('exec-a', LONG, first.signal);
    await settle();
    expect((await waiter.untilFinished('exec-b', LONG, new AbortController().signal)).outcome).to.equal('busy');
    expect(reads.flat()).not.to.include('exec-b');
    first.abort();
    expect((await waiting).outcome).to.equal('aborted');
    const again = new AbortController();
    const next = waiter.untilFinished('exec-b', LONG, again.signal);
    expect(waiter.size).to.equal(1);
    again.abort();
    expect((await next).outcome).to.equal('aborted');
  });

  it('on close wakes whoever waits and takes no one new', async () => {
    const { notifier, waiter } = setUp();
    const waiting = waiter.untilFinished('exec-a', LONG, new AbortController().signal);
    waiter.close();
    expect((await waiting).outcome).to.equal('timeout');
    expect((await waiter.untilFinished('exec-a', LONG, new AbortController().signal)).outcome).to.equal('busy');
    expect(notifier.listenerCount(FINISHED_CHANNEL)).to.equal(0);
  });
});

describe('the wait a request asks for', () => {
  const cases: [string, number | undefined][] = [
    ['wait=10', 10],
    ['WAIT=10', 10],
    ['respond-async, wait=7', 7],
    ['respond-async, wait=7, handling=lenient', 7],
    ['return=minimal; foo="a,b", wait = 5 ; x=y', 5],
    ['wait="12"', 12],
    ['foo="wait=9", wait=3', 3],
    ['wait=3, wait=9', 3],
    ['wait=-1', undefined],
    ['wait=1.5', undefined],
    ['wait', undefined],
    ['waiting=4', undefined],
    ['respond-async', undefined],
    ['', undefined],
  ];
  for (const [header, seconds] of cases)
    it(`Prefer: ${header} → ${String(seconds)}`, () => expect(preferredWait(header)).to.equal(seconds));

  it('is cut to the maximum, and the query parameter wins over Prefer', () => {
    expect(waitOf('wait=3600', undefined, 25)).to.deep.equal({ seconds: 25, viaPrefer: true });
    expect(waitOf('wait=99999999999999999999999', undefined, 25)).to.deep.equal({ seconds: 25, viaPrefer: true });
    expect(waitOf('wait=3', 8, 25)).to.deep.equal({ seconds: 8, viaPrefer: false });
    expect(waitOf(undefined, 3600, 25)).to.deep.equal({ seconds: 25, viaPrefer: false });
    expect(waitOf('respond-async', undefined, 25)).to.equal(undefined);
  });
});
