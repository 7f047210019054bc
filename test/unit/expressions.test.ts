import { expect } from 'chai';
import { parseProblem, resolveTemplates, stringsIn, templatesIn } from '../../src/engine/expressions';

/** What a step's params see: the run's input, earlier nodes' outputs and the secrets. */
const scope = {
  input: { n: 21, name: 'Ada', digits: '7', blank: '', yes: true, none: null, list: [1, 2, 3], obj: { a: 1 } },
  nodes: {
    fetch: {
      output: {
        items: [
          { id: 1, tag: 'x' },
          { id: 2, tag: 'y' },
        ],
        count: 2,
      },
    },
  },
  secrets: { TOKEN: 'tok-123' },
};

describe('templates and expressions', () => {
  describe('resolveTemplates', () => {
    const cases: { name: string; value: unknown; resolved: unknown }[] = [
      // A string that is one whole template takes the expression's value, of its own type.
      { name: 'a whole template keeps a number', value: '{{ input.n }}', resolved: 21 },
      { name: 'a whole template keeps a string', value: '{{ input.name }}', resolved: 'Ada' },
      { name: 'a whole template keeps a string of digits a string', value: '{{ input.digits }}', resolved: '7' },
      { name: 'a whole template keeps a boolean', value: '{{ input.yes }}', resolved: true },
      { name: 'a whole template keeps an array', value: '{{ input.list }}', resolved: [1, 2, 3] },
      { name: 'a whole template keeps an object', value: '{{ input.obj }}', resolved: { a: 1 } },
      { name: 'a whole template keeps the empty string', value: '{{ input.blank }}', resolved: '' },
      { name: 'a whole template of null is null', value: '{{ input.none }}', resolved: null },
      { name: 'a whole template of nothing (a missing field) is null', value: '{{ input.missing }}', resolved: null },
      { name: 'a path into a number is null', value: '{{ input.n.x }}', resolved: null },
      { name: 'whitespace around a whole template is dropped', value: '  {{ input.n }}\n', resolved: 21 },
      { name: 'no spaces needed inside the braces', value: '{{input.n}}', resolved: 21 },
      { name: 'an expression may span lines', value: '{{\n  input.n\n  * 2\n}}', resolved: 42 },
      { name: 'a computed value', value: '{{ input.n * 2 + 0.5 }}', resolved: 42.5 },
      { name: 'a comparison', value: '{{ input.n > 20 }}', resolved: true },
      { name: 'a JSONata function', value: '{{ $count(input.list) }}', resolved: 3 },
      { name: 'string concatenation', value: '{{ input.name & "!" }}', resolved: 'Ada!' },
      { name: 'an object constructor', value: '{{ {"doubled": input.n * 2} }}', resolved: { doubled: 42 } },
      { name: 'an empty array', value: '{{ [] }}', resolved: [] },
      { name: 'a filter over an array', value: '{{ input.list[$ > 1] }}', resolved: [2, 3] },
      { name: "a path over earlier nodes' outputs", value: '{{ nodes.fetch.output.items.id }}', resolved: [1, 2] },
      {
        name: 'a path matching one item gives the item, not a one-item array (JSONata)',
        value: '{{ nodes.fetch.output.items[id = 2].tag }}',
        resolved: 'y',
      },
      { name: 'an index', value: '{{ nodes.fetch.output.items[0] }}', resolved: { id: 1, tag: 'x' } },
      { name: 'the secrets', value: '{{ secrets.TOKEN }}', resolved: 'tok-123' },
      { name: 'braces inside a quoted string', value: "{{ '}}' }}", resolved: '}}' },

      // Templates inside text are interpolated as text.
      { name: 'a number inside text becomes text', value: 'n={{ input.n }}', resolved: 'n=21' },
      { name: 'a string inside text goes in without quotes', value: 'hello {{ input.name }}', resolved: 'hello Ada' },
      { name: 'a boolean inside text', value: 'ok: {{ input.yes }}', resolved: 'ok: true' },
      { name: 'an array inside text is JSON', value: 'l={{ input.list }}', resolved: 'l=[1,2,3]' },
      { name: 'an object inside text is JSON', value: 'o={{ input.obj }}', resolved: 'o={"a":1}' },
      { name: 'null inside text is nothing', value: '<{{ input.none }}>', resolved: '<>' },
      { name: 'a missing field inside text is nothing', value: '<{{ input.missing }}>', resolved: '<>' },
      { name: 'the empty string inside text', value: '<{{ input.blank }}>', resolved: '<>' },
      {
        name: 'several templates in one string',
        value: '{{ input.name }} is {{ input.n }}',
        resolved: 'Ada is 21',
      },
      { name: 'two whole templates side by side are text', value: '{{ input.n }}{{ input.n }}', resolved: '2121' },
      { name: 'a secret inside a header value', value: 'Bearer {{ secrets.TOKEN }}', resolved: 'Bearer tok-123' },
      { name: 'an unclosed template stays text', value: 'a {{ input.n }} b {{ c', resolved: 'a 21 b {{ c' },

      // Anything else.
      { name: 'a string without a template as it is', value: 'plain { text }', resolved: 'plain { text }' },
      { name: 'a number as it is', value: 42, resolved: 42 },
      { name: 'a boolean as it is', value: false, resolved: false },
      { name: 'null as it is', value: null, resolved: null },
      {
        name: 'every string of nested objects and arrays, keys as they are',
        value: {
          url: 'https://x/{{ input.n }}',
          body: { name: '{{ input.name }}', ids: ['{{ input.n }}', 5, true, null, ['{{ input.obj }}']] },
          '{{ input.name }}': 'key',
        },
        resolved: {
          url: 'https://x/21',
          body: { name: 'Ada', ids: [21, 5, true, null, [{ a: 1 }]] },
          '{{ input.name }}': 'key',
        },
      },
    ];
    for (const c of cases) {
      it(`resolves ${c.name}`, async () => {
        expect(await resolveTemplates(c.value, scope)).to.deep.equal(c.resolved);
      });
    }

    it('leaves the value it resolves as it was', async () => {
      const value = { a: '{{ input.n }}', list: ['{{ input.name }}'] };
      await resolveTemplates(value, scope);
      expect(value).to.deep.equal({ a: '{{ input.n }}', list: ['{{ input.name }}'] });
    });

    const failures: { name: string; value: unknown; message: RegExp; code: string }[] = [
      { name: 'a syntax error', value: '{{ input. }}', message: /Unexpected end of expression/, code: 'S0207' },
      { name: 'an empty template', value: '{{ }}', message: /Unexpected end of expression/, code: 'S0207' },
      { name: 'a syntax error inside text', value: 'a {{ ( }} b', message: /Expected "\)"/, code: 'S0203' },
      {
        name: 'arithmetic on a string',
        value: '{{ input.n + "x" }}',
        message: /right side of the "\+" operator must evaluate to a number/,
        code: 'T2002',
      },
      {
        name: 'arithmetic on a string inside text',
        value: 'total: {{ input.name - 1 }}',
        message: /left side of the "-" operator must evaluate to a number/,
        code: 'T2001',
      },
      { name: 'an unknown function', value: '{{ $nope() }}', message: /non-function/, code: 'T1006' },
      { name: '$error()', value: '{{ $error("no way") }}', message: /^no way$/, code: 'D3137' },
      {
        name: 'a failing template deep in a nested value',
        value: { ok: '{{ input.n }}', list: ['fine', { bad: '{{ input.n + "x" }}' }] },
        message: /must evaluate to a number/,
        code: 'T2002',
      },
    ];
    for (const c of failures) {
      it(`rejects ${c.name} with JSONata's error`, async () => {
        const err = await resolveTemplates(c.value, scope).then(
          () => expect.fail('the template resolved'),
          (e: Error & { code?: string }) => e,
        );
        expect(err.message).to.match(c.message);
        expect(err.code).to.equal(c.code);
      });
    }
  });

  describe('templatesIn', () => {
    const cases: [string, string[]][] = [
      ['no templates', []],
      ['{{ input.n }}', ['input.n']],
      ['a {{ x }} b {{y}} c', ['x', 'y']],
      ['{{\n  multi\n  line\n}}', ['multi\n  line']],
      ['{{ }}', ['']],
      ['unclosed {{ x', []],
    ];
    for (const [text, expressions] of cases) {
      it(`finds ${JSON.stringify(expressions)} in ${JSON.stringify(text)}`, () => {
        expect(templatesIn(text)).to.deep.equal(expressions);
      });
    }
  });

  describe('parseProblem', () => {
    const cases: [string, { message: RegExp; position?: number } | undefined][] = [
      ['input.n * 2', undefined],
      ['$count(nodes.a.output)', undefined],
      ['', { message: /^the expression is empty$/ }],
      ['   ', { message: /^the expression is empty$/ }],
      ['a.(', { message: /Expected "\)"/, position: 3 }],
      ['input.', { message: /Unexpected end of expression/, position: 6 }],
    ];
    for (const [expression, problem] of cases) {
      it(`${problem ? 'refuses' : 'accepts'} ${JSON.stringify(expression)}`, () => {
        const found = parseProblem(expression);
        if (!problem) return expect(found).to.equal(undefined);
        expect(found?.message).to.match(problem.message);
        expect(found?.position).to.equal(problem.position);
      });
    }
  });

  describe('stringsIn', () => {
    const cases: { name: string; value: unknown; strings: { path: string; value: string }[] }[] = [
      { name: 'a string at the top', value: 'x', strings: [{ path: 'params', value: 'x' }] },
      { name: 'nothing in numbers and null', value: { a: 1, b: null, c: [true] }, strings: [] },
      {
        name: 'strings in objects and arrays with dotted paths',
        value: { a: 'x', b: [1, 'y', { c: 'z' }] },
        strings: [
          { path: 'params.a', value: 'x' },
          { path: 'params.b.1', value: 'y' },
          { path: 'params.b.2.c', value: 'z' },
        ],
      },
    ];
    for (const c of cases) {
      it(`finds ${c.name}`, () => {
        expect(stringsIn(c.value, 'params')).to.deep.equal(c.strings);
      });
    }
  });
});
