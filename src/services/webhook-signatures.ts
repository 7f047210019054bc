/**
 * Checks that a webhook's caller knows the shared secret: an HMAC of the raw body (GitHub's
 * `X-Hub-Signature-256`, Stripe's timestamped `Stripe-Signature`, or a header the trigger names),
 * compared in constant time. Pure: the caller passes the headers and the time.
 */
import crypto from 'node:crypto';
import type { WebhookVerification } from '../db/tables';

export type HeaderReader = (name: string) => string | undefined;
export type Verdict = { ok: true } | { ok: false; reason: string };

/** Stripe's default tolerance for the signed timestamp. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The header that carries the signature for a scheme, lower case (it is not passed to the flow). */
export function signatureHeaders(v: WebhookVerification): string[] {
  if (v.scheme === 'github') return ['x-hub-signature-256', 'x-hub-signature'];
  if (v.scheme === 'stripe') return ['stripe-signature'];
  if (v.scheme === 'generic' && v.header) return [v.header.toLowerCase()];
  return [];
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function hmac(algorithm: string, secret: string, data: Buffer | string): Buffer {
  return crypto.createHmac(algorithm, secret).update(data).digest();
}

/** Hex from a header, as bytes; an odd or non-hex text gives bytes that match nothing. */
function hexBytes(text: string): Buffer {
  return /^[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.alloc(0);
}

export function verifySignature(
  v: WebhookVerification,
  secret: string | null,
  body: Buffer,
  header: HeaderReader,
  nowSeconds: number,
): Verdict {
  if (v.scheme === 'none') return { ok: true };
  if (secret === null) return { ok: false, reason: 'the trigger has no secret' };
  if (v.scheme === 'github') {
    const sent = header('x-hub-signature-256');
    if (!sent) return { ok: false, reason: 'no X-Hub-Signature-256 header' };
    if (!sent.startsWith('sha256=')) return { ok: false, reason: 'X-Hub-Signature-256 does not start with sha256=' };
    return sameBytes(hexBytes(sent.slice(7)), hmac('sha256', secret, body))
      ? { ok: true }
      : { ok: false, reason: 'the signature does not match' };
  }
  if (v.scheme === 'stripe') {
    const sent = header('stripe-signature');
    if (!sent) return { ok: false, reason: 'no Stripe-Signature header' };
    const parts = sent.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]);
    const t = parts.find(([k]) => k === 't')?.[1];
    const signatures = parts.filter(([k]) => k === 'v1').map(([, s]) => s ?? '');
    if (!t || !/^\d+$/.test(t) || signatures.length === 0)
      return { ok: false, reason: 'Stripe-Signature needs t=<timestamp> and v1=<signature>' };
    const tolerance = v.tolerance_seconds ?? DEFAULT_TOLERANCE_SECONDS;
    if (Math.abs(nowSeconds - Number(t)) > tolerance)
      return { ok: false, reason: `the signed timestamp is more than ${tolerance} seconds from now` };
    const expected = hmac('sha256', secret, Buffer.concat([Buffer.from(`${t}.`), body]));
    return signatures.some((s) => sameBytes(hexBytes(s), expected))
      ? { ok: true }
      : { ok: false, reason: 'the signature does not match' };
  }
  const name = v.header ?? '';
  const sent = header(name.toLowerCase());
  if (!sent) return { ok: false, reason: `no ${name} header` };
  const prefix = v.prefix ?? '';
  if (!sent.startsWith(prefix)) return { ok: false, reason: `${name} does not start with ${prefix}` };
  const text = sent.slice(prefix.length);
  const given = (v.encoding ?? 'hex') === 'hex' ? hexBytes(text) : Buffer.from(text, 'base64');
  return sameBytes(given, hmac(v.algorithm ?? 'sha256', secret, body))
    ? { ok: true }
    : { ok: false, reason: 'the signature does not match' };
}
