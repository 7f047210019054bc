/**
 * db/transaction.ts on real PostgreSQL under real concurrency: two transactions that take two rows'
 * locks in opposite order deadlock (40P01), and an update of a row that a concurrent transaction
 * changed since the snapshot fails to serialize (40001). Each is shown happening with a bare Knex
 * transaction, then shown retried to success through `inTransaction`.
 */
import { expect } from 'chai';
import type { DatabaseError } from 'pg';
import { createKnex, type Knex, type Tx } from '../../src/db/knex';
import { inTransaction, TRANSACTION_ATTEMPTS } from '../../src/db/transaction';
import { testDatabaseUrl } from '../support/database';

/** Resolves once `parties` callers have arrived; later arrivals pass at once. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++arrived >= parties) open();
    return opened;
  };
}

const codeOf = (err: unknown) => (err as DatabaseError).code;

describe('transactions that conflict with a concurrent one are run again', () => {
  let db: Knex;
  before(async () => {
    db = createKnex(testDatabaseUrl(), 4);
    await db.schema.createTable('transaction_test', (t) => {
      t.integer('id').primary();
      t.integer('n').notNullable();
    });
  });
  beforeEach(async () => {
    await db('transaction_test').delete();
    await db('transaction_test').insert([
      { id: 1, n: 0 },
      { id: 2, n: 0 },
    ]);
  });
  after(() => db.destroy());

  const counts = async () => (await db('transaction_test').orderBy('id').select('n')).map((r: { n: number }) => r.n);

  /** Increments row `first`, waits until the other side holds its first row too, then row `second`. */
  const crossing = (bothHoldOne: () => Promise<void>, first: number, second: number) => async (tx: Tx) => {
    await tx('transaction_test').where({ id: first }).increment('n', 1);
    await bothHoldOne();
    await tx('transaction_test').where({ id: second }).increment('n', 1);
  };

  it('a deadlock: one of two bare transactions locking two rows in opposite order fails with 40P01', async () => {
    const gate = barrier(2);
    const results = await Promise.allSettled([
      db.transaction(crossing(gate, 1, 2)),
      db.transaction(crossing(gate, 2, 1)),
    ]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.map((r) => codeOf(r.reason))).to.deep.equal(['40P01']);
    expect(await counts()).to.deep.equal([1, 1]);
  });

  it('the same deadlock through inTransaction: the aborted side is run again and both succeed', async () => {
    const gate = barrier(2);
    const retried: string[] = [];
    const onRetry = (err: unknown) => retried.push(codeOf(err)!);
    await Promise.all([
      inTransaction(db, crossing(gate, 1, 2), { onRetry }),
      inTransaction(db, crossing(gate, 2, 1), { onRetry }),
    ]);
    expect(retried).to.deep.equal(['40P01']);
    expect(await counts()).to.deep.equal([2, 2]);
  });

  /** Reads row 1 in its snapshot; the first `interferences` attempts see another connection change it, then write. */
  const readThenWrite = (interferences: number) => {
    let attempts = 0;
    const work = async (tx: Tx) => {
      attempts++;
      const { n } = (await tx('transaction_test').where({ id: 1 }).first('n')) as { n: number };
      if (attempts <= interferences) await db('transaction_test').where({ id: 1 }).increment('n', 10);
      await tx('transaction_test')
        .where({ id: 1 })
        .update({ n: n + 1 });
      return n + 1;
    };
    return { work, attempts: () => attempts };
  };

  it('a serialization failure: a bare repeatable-read transaction fails with 40001', async () => {
    const { work } = readThenWrite(1);
    const err = await db.transaction(work, { isolationLevel: 'repeatable read' }).then(
      () => expect.fail('expected a serialization failure'),
      (e: unknown) => e,
    );
    expect(codeOf(err)).to.equal('40001');
    expect(await counts()).to.deep.equal([10, 0]);
  });

  it('the same failure through inTransaction: run again on a fresh snapshot, no update is lost', async () => {
    const { work, attempts } = readThenWrite(1);
    const retried: string[] = [];
    const n = await inTransaction(db, work, {
      isolationLevel: 'repeatable read',
      onRetry: (err) => retried.push(codeOf(err)!),
    });
    expect(retried).to.deep.equal(['40001']);
    expect(attempts()).to.equal(2);
    expect(n).to.equal(11);
    expect(await counts()).to.deep.equal([11, 0]);
  });

  it(`gives up after ${TRANSACTION_ATTEMPTS} attempts and lets the conflict through`, async () => {
    const { work, attempts } = readThenWrite(Infinity);
    const err = await inTransaction(db, work, { isolationLevel: 'repeatable read' }).then(
      () => expect.fail('expected the conflict to come through'),
      (e: unknown) => e,
    );
    expect(codeOf(err)).to.equal('40001');
    expect(attempts()).to.equal(TRANSACTION_ATTEMPTS);
  });

  it('does not retry a nested call on its own: the outermost call runs the whole transaction again', async () => {
    const inner = readThenWrite(1);
    const outerRetries: string[] = [];
    const innerRetries: string[] = [];
    let outerAttempts = 0;
    await inTransaction(
      db,
      async (tx) => {
        outerAttempts++;
        await inTransaction(tx, inner.work, { onRetry: (err) => innerRetries.push(codeOf(err)!) });
      },
      { isolationLevel: 'repeatable read', onRetry: (err) => outerRetries.push(codeOf(err)!) },
    );
    expect(innerRetries).to.deep.equal([]);
    expect(outerRetries).to.deep.equal(['40001']);
    expect(outerAttempts).to.equal(2);
    expect(await counts()).to.deep.equal([11, 0]);
  });
});
