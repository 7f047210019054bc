/** A child for the process pool's tests: answers n + 1, or never answers at all (a busy loop). */
import { DONE, READY } from '../../src/engine/sandbox/pool';

process.on('disconnect', () => process.exit(0));
process.on('message', (job: { hang?: boolean; n?: number }) => {
  process.send!({ progress: 0 });
  if (job.hang) for (;;);
  process.send!({ progress: DONE });
  process.send!((job.n ?? 0) + 1);
});
process.send!(READY);
