import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { SIGN_IN_TTL_SECONDS } from '../services/sign-in.service';
import {
  clearDocsSessionCookie,
  clearSignInCookie,
  DOCS_SESSION_COOKIE,
  readCookie,
  setDocsSessionCookie,
  setSignInCookie,
  SIGN_IN_COOKIE,
} from './cookies';

export const SIGN_IN_START_ROUTE = '/api/v1/auth/oidc/authorize';
/** Where the console picks up a finished sign-in (its hash route). */
const CONSOLE_SIGNED_IN = '/console#/signed-in';
const NO_STORE = { 'Cache-Control': 'no-store' };

export function signInHandlers(s: Services): Handlers {
  return {
    getSignInOptions: async () => ({ status: 200, body: s.signIn.options(SIGN_IN_START_ROUTE) }),
    startOidcSignIn: async ({ query, res }) => {
      const { location, browserSecret } = await s.signIn.start(query.return_to ?? 'console');
      setSignInCookie(res, s.config, browserSecret, SIGN_IN_TTL_SECONDS);
      return { status: 302, body: undefined, headers: { ...NO_STORE, Location: location } };
    },
    finishOidcSignIn: async ({ query, req, res }) => {
      const { returnTo, token } = await s.signIn.finish(query, readCookie(req, SIGN_IN_COOKIE));
      if (returnTo === 'docs' && token) {
        clearSignInCookie(res, s.config);
        setDocsSessionCookie(res, s.config, token.token, token.expires_at);
        return { status: 303, body: undefined, headers: { ...NO_STORE, Location: '/docs' } };
      }
      return { status: 303, body: undefined, headers: { ...NO_STORE, Location: CONSOLE_SIGNED_IN } };
    },
    createOidcSession: async ({ req, res }) => {
      const token = await s.signIn.takeSession(readCookie(req, SIGN_IN_COOKIE));
      clearSignInCookie(res, s.config);
      if (s.config.docsPrivate) setDocsSessionCookie(res, s.config, token.token, token.expires_at);
      return { status: 200, body: token, headers: NO_STORE };
    },
    endOidcSession: async ({ req, res }) => {
      const location = await s.signIn.endSession(readCookie(req, DOCS_SESSION_COOKIE));
      clearDocsSessionCookie(res, s.config);
      return { status: 302, body: undefined, headers: { ...NO_STORE, Location: location } };
    },
  };
}
