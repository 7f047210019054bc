/** API errors as readable messages, with the field they name. */
import { isFlowRunnerError } from '@flowrunner/client';

export interface FieldProblem {
  field?: string;
  message: string;
  line?: number;
  column?: number;
  node?: string;
}

/** The problems an error's details list (validation errors), or none. */
export function problemsOf(error: unknown): FieldProblem[] {
  if (!isFlowRunnerError(error) || !error.details) return [];
  const list = (error.details as { errors?: unknown }).errors;
  if (!Array.isArray(list)) {
    const { field, reason } = error.details as { field?: string; reason?: string };
    return field || reason ? [{ field, message: reason ?? error.message }] : [];
  }
  return list.map((raw) => {
    const e = raw as Record<string, unknown>;
    const text = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : undefined);
    const num = (k: string) => (typeof e[k] === 'number' ? (e[k] as number) : undefined);
    return {
      field: text('field') ?? text('path'),
      message: text('message') ?? text('reason') ?? String(raw),
      line: num('line'),
      column: num('column'),
      node: text('node'),
    };
  });
}

export function messageOf(error: unknown): string {
  if (isFlowRunnerError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const problems = problemsOf(error);
  return (
    <div class="error" role="alert">
      <strong>{messageOf(error)}</strong>
      {problems.length > 0 && (
        <ul>
          {problems.map((p, i) => (
            <li key={i}>
              {p.line !== undefined && `Line ${p.line}${p.column !== undefined ? `:${p.column}` : ''}: `}
              {p.field && <code>{p.field}</code>}
              {p.field && ': '}
              {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
