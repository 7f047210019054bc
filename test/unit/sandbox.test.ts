import { expect } from 'chai';
import path from 'node:path';
import {
  closeExpressions,
  configureExpressions,
  evaluate,
  ExpressionLimitError,
  firstTruthy,
  parseProblem,
  resolveTemplates,
} from '../../src/engine/expressions';
import { approximateSize, Evaluator, toJson } from '../../src/engine/sandbox/evaluator';
import { compileLinear, LinearRegExp, regexProblem } from '../../src/engine/sandbox/linear-regexp';
import { PoolLimitError, ProcessPool } from '../../src/engine/sandbox/pool';
import { nodesReferenced, scopeFor } from '../../src/engine/scope';
import { expressionsIn, hasTemplates, resolveWith } from '../../src/engine/templates';

const TAIL = '( $f := function($x){ $f($x) }; $f(1) )';
const NON_TAIL = '( $f := function($x){ 1 + $f($x) }; $f(1) )';
const EVIL = 'a'.repeat(30) + '!';

describe('templates', () => {
  it('finds templates, and lists their expressions in the order they resolve', async () => {
    const value = { a: 'x {{ one }} y {{ two }}', b: ['{{ three }}', 7, { c: 'plain' }] };
    expect(hasTemplates(value)).to.equal(true);
    expect(hasTemplates({ a: 'plain', b: [1, { c: 'x' }] })).to.equal(false);
    expect(expressionsIn(value)).to.deep.equal(['one', 'two', 'three']);
    const seen: string[] = [];
    const resolved = await resolveWith(value, async (e) => (seen.push(e), e === 'three' ? { n: 3 } : e.length));
    expect(seen).to.deep.equal(['one', 'two', 'three']);
    expect(resolved).to.deep.equal({ a: 'x 3 y 3', b: [{ n: 3 }, 7, { c: 'plain' }] });
  });

  it('keeps a key named __proto__ as data', async () => {
    const value = JSON.parse('{"__proto__": "{{ 1 }}"}') as Record<string, unknown>;
    const resolved = (await resolveWith(value, async () => 'polluted')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(resolved)).to.equal(Object.prototype);
    expect(Object.keys(resolved)).to.deep.equal(['__proto__']);
  });
});

describe('the scope a job takes', () => {
  it('names the node outputs an expression reads', () => {
    expect(nodesReferenced(['nodes.fetch.output.body.name & nodes.`b-c`.output'])).to.deep.equal(
      new Set(['fetch', 'b-c']),
    );
    expect(nodesReferenced(['$pad("", 3, "x")', 'input.n + 1'])).to.deep.equal(new Set());
    expect(nodesReferenced(['nodes.a.output[0]', 'nodes.b.output.items[price > 1]'])).to.deep.equal(
      new Set(['a', 'b']),
    );
  });

  it('takes every output when an expression could reach one without naming it', () => {
    for (const e of [
      'nodes',
      '$keys(nodes)',
      'nodes.*',
      'nodes["a"]',
      'nodes{}',
      'nodes ~> $keys()',
      '$$.nodes.a',
      '$.nodes.a',
      '$string($)',
      '**.output',
      '*.a',
      '$eval("nodes.a")',
      '( $e := $eval; $e("nodes.a") )',
      '( $n := nodes; $n.a )',
      'not ( valid',
    ])
      expect(nodesReferenced([e]), e).to.equal('all');
    expect(nodesReferenced(['nodes.a', 'nodes'])).to.equal('all');
  });

  it('sends only those, and only own properties', () => {
    const nodes = JSON.parse('{"a": {"output": 1}, "b": {"output": 2}, "__proto__": {"output": 3}}') as object;
    const scope = { input: { n: 1 }, nodes, secrets: {}, execution: { id: 'x' } };
    expect(scopeFor(scope, ['nodes.a.output + input.n'])).to.deep.equal({ ...scope, nodes: { a: { output: 1 } } });
    expect(scopeFor(scope, ['nodes.toString.output'])).to.deep.equal({ ...scope, nodes: {} });
    expect(scopeFor(scope, ['$keys(nodes)'])).to.equal(scope);
  });
});

describe('expression evaluator (in-process, the cooperative limits)', () => {
  const evaluator = new Evaluator({ timeoutMs: 200, maxDepth: 500 });
  const patient = new Evaluator({ timeoutMs: 30_000, maxDepth: 500 });

  it('evaluates, resolves templates, and finds the first truthy case', async () => {
    const scope = { input: { n: 21 } };
    expect(await patient.run({ kind: 'value', expression: 'input.n * 2', scope })).to.deep.equal({
      ok: true,
      value: 42,
    });
    expect(
      await patient.run({ kind: 'templates', value: { s: 'n={{ input.n }}', v: '{{ input }}' }, scope }),
    ).to.deep.equal({ ok: true, value: { s: 'n=21', v: { n: 21 } } });
    expect(
      await patient.run({ kind: 'first-truthy', expressions: ['false', 'input.n > 20', '$error("x")'], scope }),
    ).to.deep.equal({ ok: true, value: 1 });
  });

  it('stops infinite tail recursion at the time limit', async () => {
    const out = await evaluator.run({ kind: 'value', expression: TAIL, scope: {} });
    expect(out).to.deep.include({ ok: false, limit: 'time', expression: TAIL });
  });

  it('stops non-tail recursion at the depth limit', async () => {
    const out = await patient.run({ kind: 'value', expression: NON_TAIL, scope: {} });
    expect(out).to.deep.include({ ok: false, limit: 'depth', expression: NON_TAIL });
  });

  it('gives the time limit to the whole job, not to each template', async () => {
    const busy = '$count($map([1..20000], function($v){ $v }))';
    const value = Array.from({ length: 40 }, () => `{{ ${busy} }}`);
    const out = await evaluator.run({ kind: 'templates', value, scope: {} });
    expect(out).to.deep.include({ ok: false, limit: 'time' });
  });

  it('reports an ordinary JSONata error with its code', async () => {
    const out = await patient.run({ kind: 'value', expression: '$error("boom")', scope: {} });
    expect(out).to.deep.include({ ok: false, message: 'boom', code: 'D3137' });
  });

  it('returns JSON only: lambdas dropped, undefined in lists null, Dates as ISO text', () => {
    expect(toJson({ f: { _jsonata_lambda: true }, l: [1, undefined, NaN], d: new Date(0), s: 'x' })).to.deep.equal({
      l: [1, null, null],
      d: '1970-01-01T00:00:00.000Z',
      s: 'x',
    });
    expect(toJson(() => 1)).to.equal(undefined);
  });

  it('tells a large answer from a small one without walking all of it', () => {
    expect(approximateSize({ a: [1, 'xy'] }, 1000)).to.be.within(10, 40);
    const big = Array.from({ length: 100_000 }, () => 'x'.repeat(100));
    expect(approximateSize(big, 1000)).to.be.within(1000, 1200);
  });
});

describe('linear-time regexes', () => {
  it('matches a catastrophic pattern against the evil input at once', () => {
    expect(compileLinear('^(a+)+$', 'u').test(EVIL)).to.equal(false);
    expect(compileLinear('^(a+)+$', 'u').test('aaaa')).to.equal(true);
  });

  it('refuses what RE2 cannot run, and says why', () => {
    expect(regexProblem('(a)\\1')).to.match(/backreferences/);
    expect(regexProblem('(?=a)b')).to.match(/lookahead/);
    expect(regexProblem('(?<!a)b')).to.match(/lookbehind/);
    expect(regexProblem('^[\\w.-]+@\\S+$')).to.equal(undefined);
    expect(regexProblem('(?<year>\\d{4})-\\u{1F600}')).to.equal(undefined);
  });

  it('behaves as a global RegExp for JSONata: lastIndex, index, groups, flags', () => {
    const re = new LinearRegExp(/(a)(b)?c/gi);
    const first = re.exec('xAbc ac')!;
    expect([...first]).to.deep.equal(['Abc', 'A', 'b']);
    expect(first.index).to.equal(1);
    expect(re.lastIndex).to.equal(4);
    const second = re.exec('xAbc ac')!;
    expect([...second]).to.deep.equal(['ac', 'a', undefined]);
    expect(re.exec('xAbc ac')).to.equal(null);
    expect(re.lastIndex).to.equal(0);
  });

  it('checks the regex literals of expressions when they are parsed', () => {
    expect(parseProblem('$match(s, /(a+)+$/)')).to.equal(undefined);
    expect(parseProblem('$match(s, /(a)\\1/)')?.message).to.match(/backreferences/);
    expect(parseProblem('$replace(s, /(?!x)y/, "")')?.message).to.match(/lookahead/);
  });
});

describe('expression sandbox (child processes, the hard limits)', function () {
  this.timeout(60_000);
  afterEach(() => closeExpressions());

  it('evaluates, resolves templates in one job and crosses back as JSON', async () => {
    configureExpressions({ timeoutMs: 2000, maxDepth: 1000, memoryMb: 64, processes: 1 });
    expect(await evaluate('input.n * 2', { input: { n: 21 } })).to.equal(42);
    expect(await resolveTemplates({ a: 'n={{ input.n }}', b: '{{ input }}', c: 1 }, { input: { n: 1 } })).to.deep.equal(
      { a: 'n=1', b: { n: 1 }, c: 1 },
    );
    expect(await firstTruthy(['false', 'true'], {})).to.equal(1);
    expect(await evaluate('function($x){ $x }', {})).to.equal(undefined);
    // A scope that is not plain data goes as its JSON.
    expect(await evaluate('input.d', { input: { d: new Date(0), f: () => 1 } })).to.equal('1970-01-01T00:00:00.000Z');
  });

  it('a process out of heap fails its job with the memory limit, and the next job runs', async () => {
    configureExpressions({ timeoutMs: 30_000, maxDepth: 1000, memoryMb: 32, processes: 1 });
    const err = await evaluate('$length($pad("", 300000000))', {}).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ExpressionLimitError);
    expect(err).to.include({ limit: 'memory', expression: '$length($pad("", 300000000))' });
    expect((err as Error).message).to.match(/memory limit of 32 MB/);
    expect(await evaluate('1 + 1', {})).to.equal(2);
  });

  it('a job that never answers gets its process killed; the others carry on', async () => {
    const pool = new ProcessPool<{ hang?: boolean; n?: number }, number>({
      file: path.join(__dirname, '../support/sandbox-child.ts'),
      processes: 2,
      hardTimeoutMs: 300,
      execArgv: ['--require', require.resolve('tsx/cjs')],
      settings: {},
    });
    try {
      const hung = pool.run({ hang: true }).catch((e: unknown) => e);
      const others = await Promise.all([1, 2, 3].map((n) => pool.run({ n })));
      expect(others).to.deep.equal([2, 3, 4]);
      const err = await hung;
      expect(err).to.be.instanceOf(PoolLimitError);
      expect(err).to.include({ limit: 'time' });
      expect(await pool.run({ n: 41 })).to.equal(42);
      expect(pool.size).to.equal(2);
    } finally {
      await pool.close();
    }
  });
});
