/** The console: a signed-in shell around the pages, or the login form. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { AccountPage } from './pages/account';
import { ExecutionPage } from './pages/execution';
import { ExecutionsPage } from './pages/executions';
import { FlowEditPage } from './pages/flow-edit';
import { FlowsPage } from './pages/flows';
import { LoginPage } from './pages/login';
import { RunPage } from './pages/run';
import { href, useRoute, type Route } from './router';
import { finishProviderSignIn, forgetSession, logOut, restoreSession, type Session } from './session';
import './styles.css';

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.page) {
    case 'flows':
      return <FlowsPage session={session} />;
    case 'flow-new':
      return <FlowEditPage session={session} />;
    case 'flow':
      return <FlowEditPage session={session} id={route.id} key={route.id} />;
    case 'run':
      return <RunPage session={session} id={route.id} key={route.id} />;
    case 'executions':
      return <ExecutionsPage session={session} flowId={route.flowId} key={route.flowId ?? ''} />;
    case 'execution':
      return <ExecutionPage session={session} id={route.id} key={route.id} />;
    case 'account':
      return <AccountPage session={session} />;
  }
}

/** Where the server sends the browser after a sign-in at the identity provider. */
const SIGNED_IN = '#/signed-in';

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [signInError, setSignInError] = useState<unknown>(null);
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (window.location.hash === SIGNED_IN) {
      // Back from the identity provider: take the token of this browser's sign-in, then the flows.
      history.replaceState(null, '', window.location.pathname);
      finishProviderSignIn().then(
        (s) => {
          window.location.hash = '#/flows';
          setSession(s);
        },
        (err: unknown) => {
          setSignInError(err);
          setSession(null);
        },
      );
      return;
    }
    void restoreSession().then(setSession);
  }, []);
  // A token that expired or was revoked elsewhere: back to the login form.
  useEffect(() => {
    if (!session) return;
    const id = session.client.axios.interceptors.response.use(undefined, (err: unknown) => {
      if ((err as { status?: unknown }).status === 401) {
        forgetSession();
        setSession(null);
      }
      return Promise.reject(err);
    });
    return () => session.client.axios.interceptors.response.eject(id);
  }, [session]);
  // A new page moves the focus to its content, as a screen reader user expects.
  useEffect(() => {
    mainRef.current?.focus();
  }, [route]);

  if (session === undefined) return <p class="muted">Loading…</p>;
  if (!session) return <LoginPage onLogin={setSession} initialError={signInError} />;
  const current = (page: Route['page'][]) => (page.includes(route.page) ? 'page' : undefined);
  return (
    <>
      <header class="top">
        <span class="brand">FlowRunner</span>
        <nav aria-label="Main">
          <a href={href('flows')} aria-current={current(['flows', 'flow', 'flow-new', 'run'])}>
            Flows
          </a>
          <a href={href('executions')} aria-current={current(['executions', 'execution'])}>
            Executions
          </a>
          <a href={href('account')} aria-current={current(['account'])}>
            Account
          </a>
        </nav>
        <button
          type="button"
          class="secondary"
          onClick={() =>
            void logOut(session).then(
              (where) => where === 'here' && setSession(null),
              () => setSession(null),
            )
          }
        >
          Log out
        </button>
      </header>
      <main ref={mainRef} tabIndex={-1}>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
