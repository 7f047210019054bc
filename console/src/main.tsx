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
import { forgetSession, logOut, restoreSession, type Session } from './session';
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

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
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
  if (!session) return <LoginPage onLogin={setSession} />;
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
        <button type="button" class="secondary" onClick={() => void logOut(session).finally(() => setSession(null))}>
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
