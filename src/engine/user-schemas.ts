/**
 * JSON Schemas that a flow declares (a run's `inputs`, an input node's `values_schema`): checked
 * when the flow is saved, compiled once per pinned version, and a mismatch is a 422 naming the field.
 *
 * They come from accounts we don't trust, so:
 * - each schema compiles in an Ajv instance of its own. Nothing is registered where another
 *   schema could see it: two flows (of one account or two) may use the same `$id`, and a `$ref`
 *   resolves only inside the schema that makes it (its own `$id`, `$defs`, `definitions`).
 * - `pattern` and `patternProperties` run on the linear-time regex engine; a pattern it cannot
 *   run is refused at save, with its path.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ValidationError } from '../errors';
import { ajvLinearRegExp, regexProblem } from './sandbox/linear-regexp';

export type UserSchema = Record<string, unknown>;

/** A fresh, isolated compile; throws when the schema is invalid or a `$ref` does not resolve. */
export function compileUserSchema(schema: UserSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, code: { regExp: ajvLinearRegExp } });
  addFormats(ajv);
  return ajv.compile(schema);
}

/** Keywords whose value is a schema, a list of schemas, or a map of name to schema. */
const ONE = [
  'items',
  'additionalProperties',
  'additionalItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
];
const LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
const MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];
const MAX_NESTING = 64;

export interface SchemaProblem {
  /** Dotted, from the schema's own location (e.g. `inputs.properties.code.pattern`). */
  path: string;
  message: string;
}

/** Every regex of a schema that the linear-time engine cannot run, with its path. */
function patternProblems(schema: unknown, path: string, out: SchemaProblem[], depth = 0): SchemaProblem[] {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return out;
  if (depth > MAX_NESTING) {
    out.push({ path, message: `the schema is nested deeper than ${MAX_NESTING} levels` });
    return out;
  }
  const s = schema as Record<string, unknown>;
  const child = (v: unknown, p: string) => patternProblems(v, p, out, depth + 1);
  if (typeof s.pattern === 'string') {
    const problem = regexProblem(s.pattern, 'u');
    if (problem) out.push({ path: `${path}.pattern`, message: problem });
  }
  if (s.patternProperties && typeof s.patternProperties === 'object') {
    for (const key of Object.keys(s.patternProperties)) {
      const problem = regexProblem(key, 'u');
      if (problem) out.push({ path: `${path}.patternProperties.${key}`, message: problem });
    }
  }
  for (const k of ONE) if (Object.hasOwn(s, k)) child(s[k], `${path}.${k}`);
  for (const k of LISTS) if (Array.isArray(s[k])) (s[k] as unknown[]).forEach((v, i) => child(v, `${path}.${k}.${i}`));
  for (const k of MAPS) {
    const map = s[k];
    if (map && typeof map === 'object' && !Array.isArray(map))
      for (const [name, v] of Object.entries(map)) child(v, `${path}.${k}.${name}`);
  }
  return out;
}

/** What is wrong with a flow's schema, for save-time validation; empty when it can be used. */
export function schemaProblems(schema: unknown, path: string): SchemaProblem[] {
  const problems = patternProblems(schema, path, []);
  if (problems.length > 0) return problems;
  try {
    compileUserSchema(schema as UserSchema);
  } catch (err) {
    problems.push({ path, message: `not a valid JSON Schema: ${(err as Error).message}` });
  }
  return problems;
}

const compiled = new Map<string, ValidateFunction>();

/**
 * `key` names the schema for the cache (immutable, e.g. flow@version#node); `prefix` starts every
 * field path (`input`, `values`); `what` says what did not match, for the message.
 */
export function checkAgainstSchema(
  key: string,
  schema: UserSchema,
  value: unknown,
  prefix: string,
  what: string,
): void {
  let validate = compiled.get(key);
  if (!validate) {
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(key, (validate = compileUserSchema(schema)));
  }
  if (validate(value)) return;
  const errors = (validate.errors ?? []).map((e) => {
    const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
    const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    return { field: [prefix, path, missing].filter(Boolean).join('.'), reason: e.message ?? 'is invalid' };
  });
  throw new ValidationError(`${what}: ${errors[0].field} ${errors[0].reason}`, {
    field: errors[0].field,
    reason: errors[0].reason,
    errors,
  });
}
