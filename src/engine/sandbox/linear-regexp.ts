/**
 * Regular expressions that come from flows run on RE2 (the pure-JS port `re2js`): matching takes
 * time linear in the input, whatever the pattern, so no pattern can backtrack catastrophically.
 * The price is RE2's syntax: no backreferences, no lookahead or lookbehind. A pattern RE2 cannot
 * run is refused when the flow is saved (`regexProblem`), never silently run on the native engine.
 */
import { RE2JS } from 're2js';

/** Why RE2 refuses the usual constructs, in words a flow author can act on. */
const UNSUPPORTED: [RegExp, string][] = [
  [/\\[1-9]|\\k</, 'backreferences (\\1, \\k<name>) are not supported'],
  [/\(\?[=!]/, 'lookahead ((?=…), (?!…)) is not supported'],
  [/\(\?<[=!]/, 'lookbehind ((?<=…), (?<!…)) is not supported'],
];

export class UnsupportedPatternError extends Error {}

/** Compiled patterns are immutable (each match makes its own matcher), so they are shared. */
const compiledPatterns = new Map<string, RE2JS>();

const FLAG_BITS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

/**
 * Compiles an ECMAScript pattern for RE2. `g`, `u` and `y` change nothing here: RE2 always reads
 * Unicode, and the callers below do the global/sticky bookkeeping themselves.
 */
export function compileLinear(source: string, flags = ''): RE2JS {
  let bits = 0;
  for (const f of flags) bits |= FLAG_BITS[f] ?? 0;
  // JSONata builds its regex anew each time the literal is evaluated (in a $map, per item).
  const key = `${bits}/${source}`;
  const cached = compiledPatterns.get(key);
  if (cached) return cached;
  try {
    const re = RE2JS.compile(RE2JS.translateRegExp(source), bits);
    if (compiledPatterns.size > 1000) compiledPatterns.clear();
    compiledPatterns.set(key, re);
    return re;
  } catch (err) {
    const known = UNSUPPORTED.find(([test]) => test.test(source));
    const reason = known ? known[1] : ((err as Error).message ?? String(err)).replace(/^error parsing regexp: /, '');
    throw new UnsupportedPatternError(`the pattern /${source}/ cannot run on the linear-time regex engine: ${reason}`);
  }
}

/** Undefined when RE2 can run the pattern, else why not. */
export function regexProblem(source: string, flags = ''): string | undefined {
  try {
    compileLinear(source, flags);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * What JSONata needs of a regex (its `RegexEngine` option): `new Engine(regexp)`, a writable
 * `lastIndex` to search from, and `exec` returning a RegExp-style match array with `index`.
 */
export class LinearRegExp {
  lastIndex = 0;
  private readonly re: RE2JS;

  constructor(pattern: RegExp | string, flags?: string) {
    const source = typeof pattern === 'string' ? pattern : pattern.source;
    this.re = compileLinear(source, flags ?? (typeof pattern === 'string' ? '' : pattern.flags));
  }

  exec(input: string): RegExpExecArray | null {
    const m = this.re.matcher(input);
    if (this.lastIndex > input.length || !m.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    for (let g = 0; g <= m.groupCount(); g++) groups.push(m.group(g) ?? undefined);
    const match = Object.assign(groups, { index: m.start(), input }) as unknown as RegExpExecArray;
    this.lastIndex = m.end();
    return match;
  }

  test(input: string): boolean {
    return this.exec(input) !== null;
  }
}

/** Ajv's `code.regExp`: JSON Schema `pattern` and `patternProperties` run on RE2 too. */
export function ajvLinearRegExp(pattern: string, flags: string): { test(s: string): boolean; toString(): string } {
  const re = compileLinear(pattern, flags);
  return { test: (s) => re.test(s), toString: () => `/${pattern}/${flags}` };
}
ajvLinearRegExp.code = 'linearRegExp';
