/**
 * The entry of an expression process: evaluates the jobs the pool sends, one at a time. It holds
 * nothing of the server (no database, no keys, an empty environment): only the jobs' scopes.
 */
import { Evaluator, type EvaluationLimits, type Job, type Outcome } from './evaluator';
import { DONE, READY, type Progress } from './pool';

const { limits } = JSON.parse(process.argv[2] ?? '{}') as { limits: EvaluationLimits };
const send = (message: Outcome | Progress | typeof READY) => process.send!(message);
// The pool's clock for a job runs from its first progress report to DONE.
const evaluator = new Evaluator(limits, (index) => send({ progress: index }));

// A job's outcome is settled by the promise it awaits; a stray rejection JSONata leaves behind
// (a sibling of a failed parallel evaluation) must not take the process and the next job with it.
process.on('unhandledRejection', () => {});
// Ctrl+C reaches the whole process group: let the server finish its steps, then go with it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(0));

process.on('message', (job: Job) => {
  const answer = (outcome: Outcome) => {
    send({ progress: DONE });
    send(outcome);
  };
  evaluator.run(job).then(answer, (err: unknown) => answer({ ok: false, message: String(err) }));
});
send(READY);
