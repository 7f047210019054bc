/** A child for the process pool's tests: answers n + 1, or never answers at all (a busy loop). */
import { READY, type Envelope } from '../../src/engine/sandbox/pool';

process.on('disconnect', () => process.exit(0));
process.on('message', ({ request }: Envelope<{ hang?: boolean; n?: number }>) => {
  if (request.hang) for (;;);
  process.send!((request.n ?? 0) + 1);
});
process.send!(READY);
