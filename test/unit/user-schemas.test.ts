import { expect } from 'chai';
import { parseDefinition, type DefinitionProblem } from '../../src/engine/definition';
import { checkAgainstSchema, compileUserSchema, schemaProblems } from '../../src/engine/user-schemas';

const EVIL = 'a'.repeat(30) + '!';

describe("flows' JSON Schemas", () => {
  function problems(text: string): DefinitionProblem[] {
    const r = parseDefinition(text);
    if (r.ok) expect.fail('expected the definition to be rejected');
    return r.problems;
  }

  it('runs patterns on the linear-time engine', () => {
    const validate = compileUserSchema({ type: 'string', pattern: '^(a+)+$' });
    expect(validate(EVIL)).to.equal(false);
    expect(validate('aaa')).to.equal(true);
    const props = compileUserSchema({ type: 'object', patternProperties: { '^(x+)+$': { type: 'number' } } });
    expect(props({ xxx: 'text' })).to.equal(false);
  });

  it('refuses a pattern RE2 cannot run at save, naming its place', () => {
    const found = problems(`
inputs:
  type: object
  properties:
    code: {type: string, pattern: "^(a)\\\\1$"}
  patternProperties:
    "^(?=x)": {type: string}
nodes:
  ask:
    type: input
    params:
      outcomes: [{name: ok}]
      values_schema: {type: object, properties: {v: {type: array, items: {pattern: "(?<=a)b"}}}}
  sum:
    type: transform
    params: {expression: "$match(input.code, /(x)\\\\1/)"}
entry: ask
`);
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(byPath['inputs.properties.code.pattern']).to.match(/backreferences/);
    expect(byPath['inputs.patternProperties.^(?=x)']).to.match(/lookahead/);
    expect(byPath['nodes.ask.params.values_schema.properties.v.items.pattern']).to.match(/lookbehind/);
    expect(byPath['nodes.sum.params.expression']).to.match(/backreferences/);
    expect(found.find((p) => p.path === 'inputs.properties.code.pattern')?.line).to.equal(5);
  });

  it('compiles each schema on its own: the same $id twice is fine, and a $ref reaches no other schema', () => {
    const a = { $id: 'https://schemas.example/shared', type: 'object', properties: { x: { type: 'string' } } };
    const b = { $id: 'https://schemas.example/shared', type: 'object', properties: { x: { type: 'number' } } };
    expect(schemaProblems(a, 'inputs')).to.deep.equal([]);
    expect(schemaProblems(b, 'inputs')).to.deep.equal([]);
    checkAgainstSchema('unit-a', a, { x: 'text' }, 'input', 'input');
    checkAgainstSchema('unit-b', b, { x: 1 }, 'input', 'input');
    expect(() => checkAgainstSchema('unit-b', b, { x: 'text' }, 'input', 'input')).to.throw(/input.x must be number/);
    const ref = schemaProblems(
      { type: 'object', properties: { x: { $ref: 'https://schemas.example/shared' } } },
      'inputs',
    );
    expect(ref).to.have.length(1);
    expect(ref[0]).to.include({ path: 'inputs' });
    expect(ref[0].message).to.match(/can't resolve reference https:\/\/schemas.example\/shared/);
    const own = {
      $id: 'https://schemas.example/own',
      $defs: { n: { type: 'number' } },
      properties: { x: { $ref: '#/$defs/n' } },
    };
    expect(schemaProblems(own, 'inputs')).to.deep.equal([]);
  });
});
