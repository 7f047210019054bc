/**
 * Replaces secret values with `***` in anything a run writes or an endpoint returns: steps, events,
 * results, errors, state values, packages.
 *
 * A secret is masked in the forms it takes on its way through a flow:
 * - raw;
 * - JSON-escaped (a secret with quotes or backslashes inside a JSON text);
 * - percent-encoded (encodeURIComponent, encodeURI, form encoding; upper- and lower-case hex);
 * - base64, wherever it stands in the encoded text — so `Basic base64(user:secret)` is masked
 *   whatever the user. Base64 of a text that contains the secret depends only on the secret's
 *   offset modulo 3: for each of the three offsets, the characters made of the secret's bits alone
 *   are fixed, and the whole base64 run that holds them is masked. Only for secrets of 8 characters
 *   or more (shorter cores would mask ordinary text).
 */
export const MASK = '***';

const BASE64_RUN = /[A-Za-z0-9+/]+=*/g;
const MIN_BASE64_SECRET = 8;

function percentForms(v: string): string[] {
  const forms: string[] = [];
  for (const encode of [
    encodeURIComponent,
    encodeURI,
    (s: string) => new URLSearchParams({ x: s }).toString().slice(2),
  ]) {
    let e: string;
    try {
      e = encode(v);
    } catch {
      continue; // a lone surrogate has no percent-encoding
    }
    forms.push(
      e,
      e.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    );
  }
  return forms;
}

/** The base64 characters that encode only the secret's bits, at each of the three byte offsets. */
function base64Cores(v: string): string[] {
  // UTF-8 (Buffer, TextEncoder) and, where it can, Latin-1 (btoa, JSONata's $base64encode).
  const encodings = [Buffer.from(v, 'utf8')];
  const codes = [...v].map((c) => c.codePointAt(0)!);
  if (codes.every((c) => c <= 0xff) && codes.some((c) => c >= 0x80)) encodings.push(Buffer.from(v, 'latin1'));
  const cores: string[] = [];
  for (const bytes of encodings)
    for (let k = 0; k < 3; k++) {
      const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
      cores.push(enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6)));
    }
  return cores;
}

export class Masker {
  private readonly values: string[];
  private readonly cores: string[];
  private readonly secrets: string[];

  constructor(values: Iterable<string>) {
    const secrets = [...new Set(values)].filter((v) => v.length > 0);
    this.secrets = secrets;
    const forms = new Set<string>();
    for (const v of secrets) {
      forms.add(v);
      if (v.length < 4) continue;
      forms.add(JSON.stringify(v).slice(1, -1));
      for (const f of percentForms(v)) forms.add(f);
    }
    // Longest first, so a secret that contains another is masked whole. Very short values would
    // mask ordinary text everywhere; they are still masked where they stand alone.
    this.values = [...forms].sort((a, b) => b.length - a.length);
    this.cores = secrets.filter((v) => v.length >= MIN_BASE64_SECRET).flatMap(base64Cores);
  }

  /** A masker that also hides `more` (a token a step fetched). */
  with(more: string[]): Masker {
    return more.length === 0 ? this : new Masker([...this.secrets, ...more]);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const v of this.values) {
      if (v.length < 4) {
        if (out === v) return MASK;
        continue;
      }
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    if (this.cores.length > 0 && this.cores.some((c) => out.includes(c)))
      out = out.replace(BASE64_RUN, (run) => (this.cores.some((c) => run.includes(c)) ? MASK : run));
    return out;
  }

  /** A deep copy of a JSON value with every string masked (keys too: a secret can become a key). */
  json<T>(value: T): T {
    if (this.empty) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v instanceof Date) return v;
      if (v && typeof v === 'object')
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.text(k), walk(x)]));
      return v;
    };
    return walk(value) as T;
  }
}
