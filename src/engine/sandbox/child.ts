/**
 * The entry of an expression process: evaluates the jobs the pool sends, one at a time. It holds
 * nothing of the server (no database, no keys, an empty environment): only the jobs' scopes.
 */
import { approximateSize, Evaluator, type EvaluationLimits, type Job, type Outcome } from './evaluator';
import { DONE, LATE_MS, READY, STARTED, type Envelope, type Progress } from './pool';

const { limits } = JSON.parse(process.argv[2] ?? '{}') as { limits: EvaluationLimits };
const send = (message: Outcome | Progress | typeof READY) => process.send!(message);
/** An answer larger than this is announced (DONE), so copying it across does not count as work. */
const LARGE = 256 * 1024;
// Which expression a job is on matters only when the pool has to kill it; the first is implied.
const evaluator = new Evaluator(limits, (index) => index > 0 && send({ progress: index }));

// A job's outcome is settled by the promise it awaits; a stray rejection JSONata leaves behind
// (a sibling of a failed parallel evaluation) must not take the process and the next job with it.
process.on('unhandledRejection', () => {});
// Ctrl+C reaches the whole process group: let the server finish its steps, then go with it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(0));

process.on('message', ({ at, request }: Envelope<Job>) => {
  if (Date.now() - at > LATE_MS) send({ progress: STARTED });
  const answer = (outcome: Outcome) => {
    if (outcome.ok && approximateSize(outcome.value, LARGE) > LARGE) send({ progress: DONE });
    send(outcome);
  };
  evaluator.run(request).then(answer, (err: unknown) => answer({ ok: false, message: String(err) }));
});
send(READY);
