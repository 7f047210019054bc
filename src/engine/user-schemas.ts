/**
 * Checks a value against a JSON Schema that a flow declares (a run's `inputs`, an input node's
 * `values_schema`). Compiled once per pinned version; a mismatch is a 422 naming the field.
 */
import type { ValidateFunction } from 'ajv';
import { ValidationError } from '../errors';
import { ajv } from './definition';

const compiled = new Map<string, ValidateFunction>();

/**
 * `key` names the schema for the cache (immutable, e.g. flow@version#node); `prefix` starts every
 * field path (`input`, `values`); `what` says what did not match, for the message.
 */
export function checkAgainstSchema(
  key: string,
  schema: Record<string, unknown>,
  value: unknown,
  prefix: string,
  what: string,
): void {
  let validate = compiled.get(key);
  if (!validate) {
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(key, (validate = ajv.compile(schema)));
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
