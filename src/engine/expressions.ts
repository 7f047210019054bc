/**
 * `{{ … }}` templates in params: JSONata expressions evaluated over the context. JSONata runs in its
 * own interpreter: no eval, Function or vm, so nothing in a flow can reach the server's process.
 */
import jsonata from 'jsonata';

const TEMPLATE = /\{\{([\s\S]*?)\}\}/g;
const WHOLE = /^\s*\{\{([\s\S]*?)\}\}\s*$/;

/** The expressions of every template in a string. */
export function templatesIn(s: string): string[] {
  return [...s.matchAll(TEMPLATE)].map((m) => m[1].trim());
}

export interface ParseProblem {
  message: string;
  position?: number;
}

/** Undefined when the expression parses, else why not. */
export function parseProblem(expression: string): ParseProblem | undefined {
  if (expression.trim() === '') return { message: 'the expression is empty' };
  try {
    jsonata(expression);
    return undefined;
  } catch (err) {
    const e = err as { message?: string; position?: number };
    return { message: e.message ?? 'invalid expression', position: e.position };
  }
}

/** Every string in a JSON value, with its dotted path. */
export function stringsIn(
  value: unknown,
  path: string,
  out: { path: string; value: string }[] = [],
): { path: string; value: string }[] {
  if (typeof value === 'string') out.push({ path, value });
  else if (Array.isArray(value)) value.forEach((v, i) => stringsIn(v, `${path}.${i}`, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) stringsIn(v, path ? `${path}.${k}` : k, out);
  return out;
}

const compiled = new Map<string, jsonata.Expression>();

function compile(expression: string): jsonata.Expression {
  let e = compiled.get(expression);
  if (!e) {
    e = jsonata(expression);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(expression, e);
  }
  return e;
}

export async function evaluate(expression: string, context: unknown): Promise<unknown> {
  return compile(expression).evaluate(context);
}

/**
 * Resolves every template in a JSON value. A string that is one whole template takes the
 * expression's value (number, object …); templates inside text are interpolated as text.
 */
export async function resolveTemplates(value: unknown, context: unknown): Promise<unknown> {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value;
    const whole = WHOLE.exec(value);
    if (whole && !whole[1].includes('{{')) return (await evaluate(whole[1].trim(), context)) ?? null;
    let out = '';
    let last = 0;
    for (const m of value.matchAll(TEMPLATE)) {
      out += value.slice(last, m.index);
      const v = await evaluate(m[1].trim(), context);
      out += v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      last = m.index! + m[0].length;
    }
    return out + value.slice(last);
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveTemplates(v, context)));
  if (value && typeof value === 'object') {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await resolveTemplates(v, context)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}
