/** The account: API keys (a new key is shown once) and secrets (names only). */
import { useState } from 'preact/hooks';
import type { ApiKeyCreated } from '@flowrunner/client';
import { ErrorBox } from '../errors';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { Members } from './members';

export function AccountPage({ session }: { session: Session }) {
  const me = useLoad(async () => (await session.client.users.getCurrentUser()).data, []);
  return (
    <>
      <h1>Account</h1>
      {me.data && (
        <p>
          {me.data.name} &lt;{me.data.email}&gt; · {me.data.role}
        </p>
      )}
      <ApiKeys session={session} />
      <Secrets session={session} />
      {me.data?.role === 'admin' && <Members session={session} />}
    </>
  );
}

function ApiKeys({ session }: { session: Session }) {
  const keys = useLoad(async () => (await session.client.apiKeys.listApiKeys()).data.api_keys, []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const { data } = await session.client.apiKeys.createApiKey({ apiKeyCreate: { name } });
      setCreated(data);
      setName('');
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await session.client.apiKeys.deleteApiKey({ id });
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys</h2>
      <form onSubmit={(e) => void create(e)} class="row">
        <div>
          <label for="key-name">Key name</label>
          <input id="key-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <div class="notice" role="status" style="margin-top: 0.5rem">
          Key <strong>{created.name}</strong> (shown once, copy it now):{' '}
          <code class="new-key" style="word-break: break-all">
            {created.key}
          </code>
        </div>
      )}
      <ErrorBox error={error ?? keys.error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col" class="hide-narrow">
                Last used
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(keys.data ?? []).map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td class="mono">{k.prefix}</td>
                <td class="hide-narrow">{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : 'never'}</td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Revoke ${k.name}`}
                    onClick={() => void revoke(k.id)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Secrets({ session }: { session: Session }) {
  const accountId = session.accountId;
  const secrets = useLoad(async () => (await session.client.secrets.listSecrets({ accountId })).data.secrets, []);
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const put = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await session.client.secrets.putSecret({ accountId, secretWrite: { key, value } });
      setKey('');
      setValue('');
      secrets.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (name: string) => {
    setError(null);
    try {
      await session.client.secrets.deleteSecret({ accountId, key: name });
      secrets.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="secrets-heading">
      <h2 id="secrets-heading">Secrets</h2>
      <p class="muted">Values are never shown; setting an existing name replaces its value.</p>
      <form onSubmit={(e) => void put(e)} class="row">
        <div>
          <label for="secret-key">Secret name</label>
          <input id="secret-key" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </div>
        <div>
          <label for="secret-value">Value</label>
          <input
            id="secret-value"
            type="password"
            autoComplete="off"
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </div>
        <button type="submit">Set secret</button>
      </form>
      <ErrorBox error={error ?? secrets.error} />
      <ul>
        {(secrets.data ?? []).map((s) => (
          <li key={s.key}>
            <code>{s.key}</code> <span class="muted">updated {new Date(s.updated_at).toLocaleString()}</span>{' '}
            <button
              type="button"
              class="secondary"
              aria-label={`Delete secret ${s.key}`}
              onClick={() => void remove(s.key)}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
