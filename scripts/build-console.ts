/**
 * Builds the web console as the server does (in memory, esbuild) and says how big it is: CI's check
 * that console/ builds. The server needs no build step: it builds the console on its first request.
 */
import { buildConsole } from '../src/http/console';

const started = Date.now();
buildConsole().then(
  ({ js, css }) => {
    const kib = (s: string) => `${Math.round(Buffer.byteLength(s) / 1024)} KiB`;
    process.stdout.write(`console built in ${Date.now() - started} ms: app.js ${kib(js)}, app.css ${kib(css)}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`The console does not build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
