import { expect } from 'chai';
import { ReadyQueue } from '../../src/engine/ready-queue';

describe('ReadyQueue', () => {
  /** Everything the queue hands out, in order, until it is empty. */
  function drain<T>(queue: ReadyQueue<T>): T[] {
    const out: T[] = [];
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
    return out;
  }

  it('hands out one item per account in turn, each account in the order it pushed', () => {
    const queue = new ReadyQueue<string>();
    for (const item of ['a1', 'a2', 'a3']) queue.push('A', item);
    queue.push('B', 'b1');
    for (const item of ['c1', 'c2']) queue.push('C', item);
    expect(drain(queue)).to.deep.equal(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  it("does not let a burst from one account stand in front of another account's single item", () => {
    const queue = new ReadyQueue<string>();
    for (let i = 0; i < 1000; i++) queue.push('A', `a${i}`);
    queue.push('B', 'b');
    expect(queue.shift()).to.equal('a0');
    expect(queue.shift()).to.equal('b');
    expect(queue.shift()).to.equal('a1');
  });

  it('puts an account that comes back after it ran dry at the end of the line', () => {
    const queue = new ReadyQueue<string>();
    queue.push('A', 'a1');
    queue.push('B', 'b1');
    queue.push('B', 'b2');
    expect(queue.shift()).to.equal('a1');
    queue.push('C', 'c1');
    queue.push('A', 'a2');
    // B, then C and A as they came; B, served first, has had its turn when A's comes.
    expect(drain(queue)).to.deep.equal(['b1', 'c1', 'a2', 'b2']);
  });

  it('counts what it holds as items are pushed and shifted', () => {
    const queue = new ReadyQueue<number>();
    expect(queue.size).to.equal(0);
    queue.push('A', 1);
    queue.push('A', 2);
    queue.push('B', 3);
    expect(queue.size).to.equal(3);
    queue.shift();
    expect(queue.size).to.equal(2);
    drain(queue);
    expect(queue.size).to.equal(0);
    expect(queue.shift()).to.equal(undefined);
    expect(queue.size).to.equal(0);
  });

  it('iterates over every item without taking any', () => {
    const queue = new ReadyQueue<string>();
    queue.push('A', 'a1');
    queue.push('B', 'b1');
    queue.push('A', 'a2');
    expect([...queue].sort()).to.deep.equal(['a1', 'a2', 'b1']);
    expect(queue.size).to.equal(3);
    expect(drain(queue)).to.deep.equal(['a1', 'b1', 'a2']);
  });

  it('clear answers everything it held and leaves it empty and usable', () => {
    const queue = new ReadyQueue<string>();
    queue.push('A', 'a1');
    queue.push('B', 'b1');
    queue.push('A', 'a2');
    queue.shift();
    expect(queue.clear().sort()).to.deep.equal(['a2', 'b1']);
    expect(queue.size).to.equal(0);
    expect([...queue]).to.deep.equal([]);
    expect(queue.shift()).to.equal(undefined);
    queue.push('B', 'b2');
    queue.push('A', 'a3');
    expect(queue.size).to.equal(2);
    expect(drain(queue)).to.deep.equal(['b2', 'a3']);
  });

  it('keeps falsy items', () => {
    const queue = new ReadyQueue<number | string>();
    queue.push('A', 0);
    queue.push('B', '');
    expect(queue.size).to.equal(2);
    expect(queue.shift()).to.equal(0);
    expect(queue.shift()).to.equal('');
  });
});
