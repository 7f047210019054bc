/**
 * The wait of run-and-wait and long polls, as a request asks for it: `?wait=<seconds>` or
 * `Prefer: wait=<seconds>` (RFC 7240), cut to the configured maximum.
 */
import type { Response } from 'express';

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
