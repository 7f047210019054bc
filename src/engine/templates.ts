/**
 * `{{ … }}` templates in param strings: finding them, and resolving a JSON value given a way to
 * evaluate one expression. Pure, so the expression sandbox's threads and save-time validation
 * share exactly one reading of what a template is.
 */
const TEMPLATE = /\{\{([\s\S]*?)\}\}/g;
const WHOLE = /^\s*\{\{([\s\S]*?)\}\}\s*$/;

/** The expressions of every template in a string. */
export function templatesIn(s: string): string[] {
  return [...s.matchAll(TEMPLATE)].map((m) => m[1].trim());
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

/** Whether any string in a JSON value holds a template (most params hold none). */
export function hasTemplates(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasTemplates);
  if (value && typeof value === 'object') return Object.values(value).some(hasTemplates);
  return false;
}

/** Every template expression of a JSON value, in the order `resolveWith` evaluates them. */
export function expressionsIn(value: unknown): string[] {
  return stringsIn(value, '').flatMap(({ value: s }) => {
    if (!s.includes('{{')) return [];
    const whole = WHOLE.exec(s);
    return whole && !whole[1].includes('{{') ? [whole[1].trim()] : templatesIn(s);
  });
}

/**
 * Resolves every template in a JSON value, one expression at a time, in document order. A string
 * that is one whole template takes the expression's value (number, object …); templates inside
 * text are interpolated as text.
 */
export async function resolveWith(
  value: unknown,
  evaluate: (expression: string) => Promise<unknown>,
): Promise<unknown> {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value;
    const whole = WHOLE.exec(value);
    if (whole && !whole[1].includes('{{')) return (await evaluate(whole[1].trim())) ?? null;
    let out = '';
    let last = 0;
    for (const m of value.matchAll(TEMPLATE)) {
      out += value.slice(last, m.index);
      const v = await evaluate(m[1].trim());
      out += v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      last = m.index + m[0].length;
    }
    return out + value.slice(last);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) out.push(await resolveWith(v, evaluate));
    return out;
  }
  if (value && typeof value === 'object') {
    const entries: [string, unknown][] = [];
    for (const [k, v] of Object.entries(value)) entries.push([k, await resolveWith(v, evaluate)]);
    // fromEntries defines own properties: a key named __proto__ stays data.
    return Object.fromEntries(entries);
  }
  return value;
}
