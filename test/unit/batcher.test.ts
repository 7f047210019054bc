import { expect } from 'chai';
import { Batcher } from '../../src/engine/batcher';
import { eventually } from '../support/eventually';

/** A write the test finishes by hand, so it decides what is "in flight". */
interface PendingWrite {
  items: string[];
  finish(): void;
}

/**
 * A batcher over a write that records its batches. Each write stays in flight until the test
 * finishes it (or, with `auto`, at once); a batch holding "bad" fails as a whole, like a
 * statement with a value the database refuses.
 */
function recordingBatcher(maxBatch = 100, auto = false) {
  const batches: string[][] = [];
  const pending: PendingWrite[] = [];
  const batcher = new Batcher<string, string>(async (items) => {
    batches.push(items);
    if (!auto) await new Promise<void>((finish) => pending.push({ items, finish }));
    if (items.includes('bad')) throw new Error('the database refused "bad"');
    return items.map((i) => `${i}!`);
  }, maxBatch);
  /** Waits for the next write to be in flight and lets it finish; answers its items. */
  const finishNext = async (): Promise<string[]> => {
    const write = await eventually(() => pending.shift() ?? false, { timeout: 2000, what: 'a write in flight' });
    write.finish();
    return write.items;
  };
  return { batcher, batches, pending, finishNext };
}

/** Lets every promise callback that is ready run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** What each promise came to, in order: its value or "rejected: <message>". */
function outcomes(promises: Promise<string>[]): Promise<string[]> {
  return Promise.all(
    promises.map((p) =>
      p.then(
        (v) => v,
        (e: Error) => `rejected: ${e.message}`,
      ),
    ),
  );
}

describe('Batcher', () => {
  it('writes an item alone at once when nothing is in flight', async () => {
    const { batcher, batches } = recordingBatcher(100, true);
    expect(await batcher.submit('a')).to.equal('a!');
    expect(batches).to.deep.equal([['a']]);
  });

  it('gathers the items submitted while a write is in flight into the next batch', async () => {
    const { batcher, batches, finishNext } = recordingBatcher();
    const first = batcher.submit('a');
    await settle();
    const later = ['b', 'c', 'd'].map((i) => batcher.submit(i));
    await settle();
    expect(batches).to.deep.equal([['a']]);
    await finishNext();
    expect(await finishNext()).to.deep.equal(['b', 'c', 'd']);
    expect(await outcomes([first, ...later])).to.deep.equal(['a!', 'b!', 'c!', 'd!']);
    expect(batches).to.have.length(2);
  });

  it('writes no batch larger than its maximum', async () => {
    const { batcher, batches, finishNext } = recordingBatcher(2);
    const all = ['a', 'b', 'c', 'd', 'e'].map((i) => batcher.submit(i));
    for (let n = 0; n < 3; n++) await finishNext();
    expect(await outcomes(all)).to.deep.equal(['a!', 'b!', 'c!', 'd!', 'e!']);
    expect(batches).to.deep.equal([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it("gives each item its own output, in the order of the batch's items", async () => {
    const batcher = new Batcher<number, number>(async (items) => items.map((i) => i * 10), 100);
    const all = [3, 1, 2, 5, 4].map((i) => batcher.submit(i));
    expect(await Promise.all(all)).to.deep.equal([30, 10, 20, 50, 40]);
  });

  it('writes a failed batch again item by item: only the bad item rejects, the others get their outputs', async () => {
    const { batcher, batches, finishNext } = recordingBatcher();
    const first = batcher.submit('a');
    await settle();
    const burst = ['b', 'bad', 'c'].map((i) => batcher.submit(i));
    // The first write, the batch, then each of its items alone, in order.
    for (let n = 0; n < 5; n++) await finishNext();
    expect(await outcomes([first, ...burst])).to.deep.equal(['a!', 'b!', 'rejected: the database refused "bad"', 'c!']);
    expect(batches).to.deep.equal([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
  });

  it('rejects an item that failed alone without writing it again', async () => {
    const { batcher, batches } = recordingBatcher(100, true);
    expect(await outcomes([batcher.submit('bad')])).to.deep.equal(['rejected: the database refused "bad"']);
    expect(batches).to.deep.equal([['bad']]);
  });

  it('keeps writing after a failed batch, and gathers what came in during the retries', async () => {
    const { batcher, batches, finishNext } = recordingBatcher();
    const first = batcher.submit('a');
    await settle();
    const burst = ['bad', 'b'].map((i) => batcher.submit(i));
    await finishNext();
    await finishNext(); // the batch fails; its items are written again one at a time
    expect(await finishNext()).to.deep.equal(['bad']);
    const during = ['c', 'd'].map((i) => batcher.submit(i));
    for (let n = 0; n < 2; n++) await finishNext();
    expect(await outcomes([first, ...burst, ...during])).to.deep.equal([
      'a!',
      'rejected: the database refused "bad"',
      'b!',
      'c!',
      'd!',
    ]);
    expect(batches).to.deep.equal([['a'], ['bad', 'b'], ['bad'], ['b'], ['c', 'd']]);
    const last = batcher.submit('e');
    expect(await finishNext()).to.deep.equal(['e']);
    expect(await last).to.equal('e!');
  });
});
