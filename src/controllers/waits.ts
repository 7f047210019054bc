/**
 * The wait of run-and-wait and long polls, as a request asks for it: `?wait=<seconds>` or
 * `Prefer: wait=<seconds>` (RFC 7240), cut to the configured maximum.
 */
import type { Response } from 'express';
import type { Services } from '../services';
import type { Actor } from '../services/actor';
import type { StartRequest } from '../services/executions.service';

export interface WaitChoice {
  seconds: number;
  /** From `Prefer`, so an honoured wait is confirmed with `Preference-Applied`. */
  viaPrefer: boolean;
}

/** Splits on `sep` outside quoted strings. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/**
 * The seconds of the first `wait` preference in a `Prefer` header (several header lines arrive
 * joined by commas), or undefined. Names are case-insensitive, values may be quoted, parameters
 * after `;` are ignored; a `wait` whose value is not a whole number of seconds is ignored, as a
 * preference the server does not understand.
 */
export function preferredWait(prefer: string | undefined): number | undefined {
  if (!prefer) return undefined;
  for (const preference of splitOutsideQuotes(prefer, ',')) {
    const [head] = splitOutsideQuotes(preference, ';');
    const eq = head.indexOf('=');
    const name = (eq < 0 ? head : head.slice(0, eq)).trim().toLowerCase();
    if (name !== 'wait') continue;
    // RFC 7240: of a preference given more than once, only the first counts.
    let value = eq < 0 ? '' : head.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return /^\d+$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}

/** The wait asked for, cut to `maxSeconds`; undefined when none was asked for. The query wins over `Prefer`. */
export function waitOf(
  prefer: string | undefined,
  query: number | undefined,
  maxSeconds: number,
): WaitChoice | undefined {
  if (query !== undefined) return { seconds: Math.min(query, maxSeconds), viaPrefer: false };
  const preferred = preferredWait(prefer);
  if (preferred === undefined) return undefined;
  return { seconds: Math.min(preferred, maxSeconds), viaPrefer: true };
}

/** `Preference-Applied` for an honoured `Prefer: wait`. */
export function preferenceApplied(choice: WaitChoice, honoured: boolean): Record<string, string> {
  return choice.viaPrefer && honoured ? { 'Preference-Applied': `wait=${choice.seconds}` } : {};
}

/** Aborts when the client goes away before the response is written, which ends its wait. */
export function abortedWhenGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableEnded) controller.abort();
  });
  return controller.signal;
}

/** When a client that got a 202 may ask again (with a long poll, it need not wait longer). */
export const RETRY_AFTER_SECONDS = '1';

/** An execution as the services hand it out. */
type ExecutionRow = Awaited<ReturnType<Services['executions']['start']>>['execution'];

/** How one view (executions, runs) shows a start: its URL, the reference of a 202, the finished body. */
export interface StartShapes<Ref, Finished> {
  url(id: string): string;
  ref(execution: ExecutionRow): Ref;
  finished(execution: ExecutionRow): Finished | Promise<Finished>;
}

/**
 * The answer to a start, with or without a wait: 202 with the reference when no wait was asked for
 * (an idempotent replay names the same execution, in its current state), else 200 with the
 * finished execution when it ended in time, or 202 with its current state.
 */
export async function startReply<Ref, Finished>(
  s: Services,
  op: { actor: Actor; start: StartRequest; prefer: string | undefined; wait: number | undefined; res: Response },
  shapes: StartShapes<Ref, Finished>,
) {
  const wait = waitOf(op.prefer, op.wait, s.config.maxWaitSeconds);
  if (!wait) {
    const { execution } = await s.executions.start(op.actor, op.start);
    const headers: Record<string, string> = { Location: shapes.url(execution.id), 'Retry-After': RETRY_AFTER_SECONDS };
    return { status: 202 as const, body: shapes.ref(execution), headers };
  }
  const { execution, finished, honoured } = await s.completions.startAndWait(op.actor, op.start, {
    seconds: wait.seconds,
    signal: abortedWhenGone(op.res),
  });
  const applied = preferenceApplied(wait, honoured);
  if (finished)
    return {
      status: 200 as const,
      body: await shapes.finished(execution),
      headers: { 'Content-Location': shapes.url(execution.id), ...applied },
    };
  return {
    status: 202 as const,
    body: shapes.ref(execution),
    headers: { Location: shapes.url(execution.id), 'Retry-After': RETRY_AFTER_SECONDS, ...applied },
  };
}
