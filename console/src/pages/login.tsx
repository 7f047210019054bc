import { useState } from 'preact/hooks';
import { ErrorBox } from '../errors';
import { logIn, type Session } from '../session';

export function LoginPage({ onLogin }: { onLogin: (s: Session) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
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
