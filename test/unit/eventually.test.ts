import { expect } from 'chai';
import { eventually, EventuallyTimeoutError } from '../support/eventually';

async function failure(promise: Promise<unknown>): Promise<EventuallyTimeoutError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(EventuallyTimeoutError);
    return err as EventuallyTimeoutError;
  }
  return expect.fail('eventually passed, but should have timed out');
}

describe('eventually (test support)', () => {
  it('retries a predicate until it holds, and returns its value', async () => {
    let calls = 0;
    expect(await eventually(() => ++calls >= 3 && 'ready', { timeout: 5000, interval: 1, what: 'x' })).to.equal(
      'ready',
    );
    expect(calls).to.equal(3);
  });

  it('retries an assertion until it stops throwing', async () => {
    let calls = 0;
    await eventually(
      async () => {
        calls++;
        expect(calls).to.equal(4);
      },
      { timeout: 5000, interval: 1, what: 'x' },
    );
    expect(calls).to.equal(4);
  });

  it('fails at the deadline naming what it waited for and the last error', async () => {
    let calls = 0;
    const err = await failure(
      eventually(
        () => {
          calls++;
          expect(calls, 'calls').to.equal(0);
        },
        { timeout: 50, interval: 5, what: 'the impossible' },
      ),
    );
    expect(err.message).to.match(/^Timed out after 50 ms \(\d+ attempts\) waiting for the impossible; last error: /);
    expect(err.message).to.contain(`calls: expected ${calls} to equal +0`);
    expect(err.cause).to.be.instanceOf(Error);
  });

  it('says so when the predicate only ever returned false', async () => {
    const err = await failure(eventually(() => false, { timeout: 30, interval: 5, what: 'a miracle' }));
    expect(err.message).to.match(/waiting for a miracle; the last attempt returned false$/);
  });

  it('does not wait past the deadline for an attempt that hangs', async () => {
    const err = await failure(eventually(() => new Promise(() => {}), { timeout: 30, what: 'a hung call' }));
    expect(err.message).to.match(
      /\(1 attempt\) waiting for a hung call; the only attempt was still running at the deadline$/,
    );
  });
});
