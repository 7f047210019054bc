/**
 * express-openapi-validator matches a request to its operation by compiling every path of the
 * spec with path-to-regexp on every request (`lookupRoute` in its openapi.metadata middleware):
 * the same few dozen patterns, compiled again and again, about a tenth of a request's CPU. The
 * compiled pattern depends only on its arguments, so the module's function is wrapped once with a
 * cache; the validator looks it up on the module at each call and gets the cached one.
 */
import { createRequire } from 'node:module';

type Compile = (path: string, options?: Record<string, unknown>) => { regexp: RegExp; keys: unknown[] };

const validatorRequire = createRequire(require.resolve('express-openapi-validator'));
const pathToRegexpModule = validatorRequire('path-to-regexp') as { pathToRegexp: Compile & { cached?: true } };

/** The options the cache key holds; a call with any other is compiled afresh. */
const KEYED = new Set(['sensitive', 'strict']);

/** Patterns come from the spec (and Express's own routes): a bounded set; the bound guards the rest. */
const MAX_PATTERNS = 1000;

if (!pathToRegexpModule.pathToRegexp.cached) {
  const compile = pathToRegexpModule.pathToRegexp;
  // By path, then by the validator's two flags; calls with other options are compiled afresh.
  const compiled = new Map<string, Map<string, ReturnType<Compile>>>();
  const cached: Compile & { cached?: true } = (path, options) => {
    if (typeof path !== 'string' || (options && Object.keys(options).some((k) => !KEYED.has(k))))
      return compile(path, options);
    const flags = `${options?.sensitive === true}${options?.strict === true}`;
    let byFlags = compiled.get(path);
    if (!byFlags) {
      if (compiled.size >= MAX_PATTERNS) compiled.clear();
      compiled.set(path, (byFlags = new Map()));
    }
    let result = byFlags.get(flags);
    if (!result) byFlags.set(flags, (result = compile(path, options)));
    return result;
  };
  cached.cached = true;
  pathToRegexpModule.pathToRegexp = cached;
}
