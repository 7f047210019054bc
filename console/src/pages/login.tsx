import { useEffect, useState } from 'preact/hooks';
import type { SignInOptions } from '@flowrunner/client';
import { ErrorBox } from '../errors';
import { logIn, signInOptions, type Session } from '../session';

/** `initialError`: why the last sign-in at the identity provider could not be finished. */
export function LoginPage({ onLogin, initialError }: { onLogin: (s: Session) => void; initialError?: unknown }) {
  const [options, setOptions] = useState<SignInOptions | null>(null);
  useEffect(() => {
    // Without an answer, the password form alone is offered.
    signInOptions().then(setOptions, () => setOptions(null));
  }, []);
  const provider = options?.identity_provider;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(initialError ?? null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await logIn(email, password));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main>
      <div class="card" style="max-width: 24rem; margin: 3rem auto">
        <h1>Log in to FlowRunner</h1>
        {provider && (
          <>
            <p>
              {/* A navigation, not a call: the identity provider's pages take over the window. */}
              <a class="button" href={provider.sign_in_url}>
                Sign in with {provider.name}
              </a>
            </p>
            <p class="muted">or with an email and password:</p>
          </>
        )}
        <form onSubmit={(e) => void submit(e)}>
          <label for="login-email">Email</label>
          <input
            id="login-email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            style="width: 100%"
          />
          <label for="login-password">Password</label>
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            style="width: 100%"
          />
          <p>
            <button type="submit" disabled={busy}>
              Log in
            </button>
          </p>
          <ErrorBox error={error} />
        </form>
      </div>
    </main>
  );
}
