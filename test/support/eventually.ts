/**
 * The one way tests wait for something that happens in its own time: retry a check until it holds
 * or a deadline passes, then fail saying what was awaited and why the last attempt did not pass.
 */

export interface EventuallyOptions {
  /** How long to keep trying, in ms; keep it below the test's own timeout so this message is seen. */
  timeout: number;
  /** The pause between attempts, in ms. */
  interval?: number;
  /** What is awaited, completing "waiting for …": "execution exec-1 to be completed". */
  what: string;
}

export class EventuallyTimeoutError extends Error {}

const STILL_RUNNING = Symbol('still running');

/**
 * Calls `fn` until it passes: returns (or resolves) without throwing, with anything but `false`.
 * So `fn` may be an assertion (`expect(…)` inside) or a predicate; what it returns is the result.
 * An attempt that is still running at the deadline counts as failed; its late outcome is ignored.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  { timeout, interval = 20, what }: EventuallyOptions,
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeout;
  let attempts = 0;
  let why = 'no attempt finished';
  let cause: unknown;
  for (;;) {
    attempts++;
    const attempt = Promise.resolve().then(fn);
    attempt.catch(() => undefined); // a failure after the deadline is nobody's business
    let timer: NodeJS.Timeout | undefined;
    const cutOff = new Promise<typeof STILL_RUNNING>((resolve) => {
      timer = setTimeout(() => resolve(STILL_RUNNING), Math.max(0, deadline - Date.now()));
    });
    try {
      const result = await Promise.race([attempt, cutOff]);
      if (result === STILL_RUNNING) {
        why =
          attempts === 1
            ? 'the only attempt was still running at the deadline'
            : `${why} (the attempt after it was still running at the deadline)`;
        break;
      }
      if (result !== false) return result as Exclude<T, false>;
      why = 'the last attempt returned false';
      cause = undefined;
    } catch (err) {
      why = `last error: ${err instanceof Error ? err.message : String(err)}`;
      cause = err;
    } finally {
      clearTimeout(timer);
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, left)));
  }
  throw new EventuallyTimeoutError(
    `Timed out after ${timeout} ms (${attempts} attempt${attempts === 1 ? '' : 's'}) waiting for ${what}; ${why}`,
    { cause },
  );
}
