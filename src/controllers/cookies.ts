/**
 * The two cookies of browser sign-in. Both are HttpOnly (no script reads them), SameSite=Lax (sent
 * on the identity provider's redirect back, a top-level GET, but not on other sites' requests) and
 * Secure when the public URL is https. The API itself never reads a cookie: operations authenticate
 * by header only, so no cross-site request can act with a browser's session.
 */
import type { CookieOptions, Request, Response } from 'express';
import type { Config } from '../config';

/** Binds a sign-in under way (and then its hand-off to the console) to one browser. */
export const SIGN_IN_COOKIE = 'flowrunner_sign_in';
const SIGN_IN_PATH = '/api/v1/auth/oidc';
/** The docs' session when they are private: one of our tokens, read only by the docs routes. */
export const DOCS_SESSION_COOKIE = 'flowrunner_session';

/** A cookie's value from the request's `Cookie` header (the first of that name). */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

function base(config: Config, path: string): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: config.signIn?.publicUrl.startsWith('https:') ?? false, path };
}

export function setSignInCookie(res: Response, config: Config, value: string, maxAgeSeconds: number): void {
  res.cookie(SIGN_IN_COOKIE, value, { ...base(config, SIGN_IN_PATH), maxAge: maxAgeSeconds * 1000 });
}

export function clearSignInCookie(res: Response, config: Config): void {
  res.clearCookie(SIGN_IN_COOKIE, base(config, SIGN_IN_PATH));
}

export function setDocsSessionCookie(res: Response, config: Config, token: string, expiresAt: string): void {
  res.cookie(DOCS_SESSION_COOKIE, token, { ...base(config, '/'), expires: new Date(expiresAt) });
}

export function clearDocsSessionCookie(res: Response, config: Config): void {
  res.clearCookie(DOCS_SESSION_COOKIE, base(config, '/'));
}
