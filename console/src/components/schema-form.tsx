/**
 * A form generated from a JSON Schema (a flow's `inputs`, an input wait's `values_schema`): one
 * labelled field per property of an object schema (strings, numbers, integers, booleans, enums);
 * anything else, or no schema, is edited as JSON.
 */
import { useState } from 'preact/hooks';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  description?: string;
  title?: string;
  default?: unknown;
}

type Simple = 'string' | 'number' | 'integer' | 'boolean';
const SIMPLE = new Set(['string', 'number', 'integer', 'boolean']);

function simpleType(schema: JsonSchema): Simple | null {
  if (schema.enum) return 'string';
  return typeof schema.type === 'string' && SIMPLE.has(schema.type) ? (schema.type as Simple) : null;
}

/** Whether the schema can be a form of fields (an object whose properties are all simple). */
export function isFormable(schema: JsonSchema | null | undefined): schema is JsonSchema {
  if (!schema || !schema.properties) return false;
  return Object.values(schema.properties).every((p) => simpleType(p) !== null);
}

interface Props {
  schema: JsonSchema | null | undefined;
  idPrefix: string;
  onSubmit: (value: Record<string, unknown>) => void | Promise<void>;
  submitLabel: string;
  busy?: boolean;
}

export function SchemaForm({ schema, idPrefix, onSubmit, submitLabel, busy }: Props) {
  const [raw, setRaw] = useState('{}');
  const [values, setValues] = useState<Record<string, string | boolean>>(() => {
    const init: Record<string, string | boolean> = {};
    for (const [name, p] of Object.entries(schema?.properties ?? {})) {
      if (p.default !== undefined) init[name] = typeof p.default === 'boolean' ? p.default : String(p.default);
    }
    return init;
  });
  const [problem, setProblem] = useState<string | null>(null);

  const submit = (e: Event) => {
    e.preventDefault();
    setProblem(null);
    if (!isFormable(schema)) {
      try {
        const parsed: unknown = JSON.parse(raw || '{}');
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        return void onSubmit(parsed as Record<string, unknown>);
      } catch {
        return setProblem('The input must be a JSON object');
      }
    }
    const out: Record<string, unknown> = {};
    for (const [name, p] of Object.entries(schema.properties ?? {})) {
      const v = values[name];
      const type = simpleType(p);
      if (type === 'boolean') out[name] = Boolean(v);
      else if (v === undefined || v === '') continue;
      else if (type === 'number' || type === 'integer') out[name] = Number(v);
      else out[name] = v;
    }
    void onSubmit(out);
  };

  return (
    <form onSubmit={submit}>
      {isFormable(schema) ? (
        Object.entries(schema.properties ?? {}).map(([name, p]) => {
          const id = `${idPrefix}-${name}`;
          const type = simpleType(p);
          const required = schema.required?.includes(name) ?? false;
          const set = (v: string | boolean) => setValues((old) => ({ ...old, [name]: v }));
          return (
            <div key={name}>
              <label for={id}>
                {p.title ?? name}
                {required && <span aria-hidden="true"> *</span>}
              </label>
              {p.enum ? (
                <select id={id} required={required} onChange={(e) => set(e.currentTarget.value)}>
                  <option value="">—</option>
                  {p.enum.map((o) => (
                    <option key={String(o)} value={String(o)}>
                      {String(o)}
                    </option>
                  ))}
                </select>
              ) : type === 'boolean' ? (
                <input
                  id={id}
                  type="checkbox"
                  checked={Boolean(values[name])}
                  onChange={(e) => set(e.currentTarget.checked)}
                />
              ) : (
                <input
                  id={id}
                  type={type === 'string' ? 'text' : 'number'}
                  step={type === 'integer' ? 1 : 'any'}
                  required={required}
                  value={String(values[name] ?? '')}
                  onInput={(e) => set(e.currentTarget.value)}
                />
              )}
              {p.description && <div class="muted">{p.description}</div>}
            </div>
          );
        })
      ) : (
        <div>
          <label for={`${idPrefix}-json`}>Input (JSON)</label>
          <textarea
            id={`${idPrefix}-json`}
            rows={6}
            cols={60}
            value={raw}
            onInput={(e) => setRaw(e.currentTarget.value)}
          />
        </div>
      )}
      {problem && (
        <div class="error" role="alert">
          {problem}
        </div>
      )}
      <p>
        <button type="submit" disabled={busy}>
          {submitLabel}
        </button>
      </p>
    </form>
  );
}
