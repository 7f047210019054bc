/** Accounts, for admins: list (paged), create, delete. */
import { useState } from 'preact/hooks';
import type { Role } from '@flowrunner/client';
import { ErrorBox } from '../errors';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { Pager } from './flows';

const PAGE = 25;

export function Members({ session }: { session: Session }) {
  const [offset, setOffset] = useState(0);
  const accounts = useLoad(
    async () => (await session.client.accounts.listAccounts({ limit: PAGE, offset })).data,
    [offset],
  );
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await session.client.accounts.createAccount({ accountCreate: { name, email, password, role } });
      setName('');
      setEmail('');
      setPassword('');
      accounts.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (id: string) => {
    setError(null);
    try {
      await session.client.accounts.deleteAccount({ id });
      accounts.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="members-heading">
      <h2 id="members-heading">Members</h2>
      <form onSubmit={(e) => void create(e)} class="row">
        <div>
          <label for="member-name">Member name</label>
          <input id="member-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div>
          <label for="member-email">Member email</label>
          <input
            id="member-email"
            type="email"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </div>
        <div>
          <label for="member-password">Initial password</label>
          <input
            id="member-password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        <div>
          <label for="member-role">Role</label>
          <select id="member-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </div>
        <button type="submit">Add member</button>
      </form>
      <ErrorBox error={error ?? accounts.error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(accounts.data?.accounts ?? []).map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.email}</td>
                <td>{a.role}</td>
                <td>
                  {a.id !== session.accountId && (
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Delete ${a.email}`}
                      onClick={() => void remove(a.id)}
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager offset={offset} total={accounts.data?.total ?? 0} page={PAGE} onChange={setOffset} />
    </section>
  );
}
