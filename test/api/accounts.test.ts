import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { makeAccount, uniqueEmail, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('accounts', () => {
  let server: TestServer;
  let admin: TestAccount;
  let alice: TestAccount;
  let bob: TestAccount;
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(() => server.close());

  it('GET /users/me returns the caller, by token or API key', async () => {
    expect((await alice.client.users.getCurrentUser()).data).to.deep.include({
      id: alice.account.id,
      email: alice.account.email,
      role: 'user',
    });
    const { data: key } = await alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'me' } });
    expect((await apiClient(server.url, { apiKey: key.key }).users.getCurrentUser()).data.id).to.equal(
      alice.account.id,
    );
  });

  describe('as an admin', () => {
    it('creates, reads, updates (including role) and deletes an account', async () => {
      const email = uniqueEmail('new');
      const { data: created, status } = await admin.client.accounts.createAccount({
        accountCreate: {
          name: 'New Account',
          email,
          password: 'your-password',
          role: 'user',
        },
      });
      expect(status).to.equal(201);
      expect(created).to.include({ name: 'New Account', email, role: 'user' });
      expect(created).not.to.have.property('password');
      expect((await admin.client.accounts.getAccount({ id: created.id })).data).to.deep.equal(created);

      const { data: updated } = await admin.client.accounts.updateAccount({
        id: created.id,
        accountUpdate: {
          name: 'Updated',
          role: 'admin',
        },
      });
      expect(updated).to.include({ name: 'Updated', role: 'admin' });
      expect(new Date(updated.updated_at).getTime()).to.be.at.least(new Date(created.updated_at).getTime());

      const login = await apiClient(server.url).auth.login({
        loginRequest: { username: email, password: 'your-password' },
      });
      expect(login.data.account_id).to.equal(created.id);

      expect((await admin.client.accounts.deleteAccount({ id: created.id })).data).to.deep.equal({
        message: 'Account deleted successfully',
      });
      await expectError(admin.client.accounts.getAccount({ id: created.id }), 404, 'not_found');
      // Its tokens stop working with it.
      await expectError(apiClient(server.url, { token: login.data.token }).users.getCurrentUser(), 401, 'unauthorized');
    });

    it('lists with a role filter, limit, offset and total', async () => {
      const all = (await admin.client.accounts.listAccounts({ limit: 100, offset: 0 })).data;
      expect(all.total).to.equal(all.accounts.length);
      const admins = (await admin.client.accounts.listAccounts({ role: 'admin', limit: 100, offset: 0 })).data;
      // Exactly the admins of the full list: a filter ignored, or one that matches nobody, shows.
      expect(admins.accounts).to.deep.equal(all.accounts.filter((a) => a.role === 'admin'));
      expect(admins.accounts.map((a) => a.id)).to.include(admin.account.id);
      expect(admins.total).to.equal(admins.accounts.length);
      const users = (await admin.client.accounts.listAccounts({ role: 'user', limit: 100, offset: 0 })).data;
      expect(users.accounts.map((a) => a.id)).to.include.members([alice.account.id, bob.account.id]);
      expect(users.total + admins.total).to.equal(all.total);
      const page = (await admin.client.accounts.listAccounts({ limit: 1, offset: 1 })).data;
      expect(page).to.include({ limit: 1, offset: 1, total: all.total });
      expect(page.accounts).to.deep.equal([all.accounts[1]]);
      await expectError(admin.client.accounts.listAccounts({ limit: 0 }), 400, 'invalid_request');
      await expectError(admin.client.accounts.listAccounts({ limit: 101 }), 400, 'invalid_request');
    });

    it('refuses a duplicate email, case-insensitively, with 409', async () => {
      const err = await expectError(
        admin.client.accounts.createAccount({
          accountCreate: {
            name: 'Dup',
            email: alice.account.email.toUpperCase(),
            password: 'password1',
          },
        }),
        409,
        'conflict',
      );
      expect(err.details?.field).to.equal('email');
      await expectError(
        admin.client.accounts.updateAccount({ id: bob.account.id, accountUpdate: { email: alice.account.email } }),
        409,
        'conflict',
      );
    });

    it('refuses a short password and a bad email', async () => {
      const short = await expectError(
        admin.client.accounts.createAccount({ accountCreate: { name: 'S', email: uniqueEmail(), password: 'short' } }),
        400,
        'invalid_request',
      );
      expect(short.details?.field).to.equal('password');
      const bad = await expectError(
        admin.client.accounts.createAccount({
          accountCreate: { name: 'S', email: 'not-an-email', password: 'long-enough' },
        }),
        400,
        'invalid_request',
      );
      expect(bad.details?.field).to.equal('email');
    });

    it('keeps the last admin: it cannot be deleted or demoted', async () => {
      // Make this admin the only one, in a database of its own making.
      const others = await server
        .db('accounts')
        .where({ role: 'admin' })
        .whereNot({ id: admin.account.id })
        .select('id');
      await server
        .db('accounts')
        .whereIn(
          'id',
          others.map((o) => o.id),
        )
        .update({ role: 'user' });
      try {
        await expectError(admin.client.accounts.deleteAccount({ id: admin.account.id }), 409, 'conflict');
        await expectError(
          admin.client.accounts.updateAccount({ id: admin.account.id, accountUpdate: { role: 'user' } }),
          409,
          'conflict',
        );
        expect((await admin.client.users.getCurrentUser()).data.role).to.equal('admin');
        // With a second admin, demoting the first is fine.
        const second = await makeAccount(server, { role: 'admin' });
        expect(
          (await second.client.accounts.updateAccount({ id: admin.account.id, accountUpdate: { role: 'user' } })).data
            .role,
        ).to.equal('user');
        await second.client.accounts.updateAccount({ id: admin.account.id, accountUpdate: { role: 'admin' } });
      } finally {
        await server
          .db('accounts')
          .whereIn(
            'id',
            others.map((o) => o.id),
          )
          .update({ role: 'admin' });
      }
    });

    it('deleting an account deletes its API keys and secrets', async () => {
      const doomed = await makeAccount(server);
      const { data: key } = await doomed.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'k' } });
      await doomed.client.secrets.putSecret({
        accountId: doomed.account.id,
        secretWrite: { key: 'TOKEN', value: 'v' },
      });
      await admin.client.accounts.deleteAccount({ id: doomed.account.id });
      expect(await server.db('api_keys').where({ account_id: doomed.account.id })).to.have.length(0);
      expect(await server.db('secrets').where({ account_id: doomed.account.id })).to.have.length(0);
      await expectError(apiClient(server.url, { apiKey: key.key }).users.getCurrentUser(), 401, 'unauthorized');
    });
  });

  describe('as a user', () => {
    it('reads and updates only their own name, email and password', async () => {
      expect((await alice.client.accounts.getAccount({ id: alice.account.id })).data.id).to.equal(alice.account.id);
      const newEmail = uniqueEmail('alice');
      const { data } = await alice.client.accounts.updateAccount({
        id: alice.account.id,
        accountUpdate: {
          name: 'Alice',
          email: newEmail,
          password: 'a-new-password',
        },
      });
      expect(data).to.include({ name: 'Alice', email: newEmail, role: 'user' });
      await apiClient(server.url).auth.login({ loginRequest: { username: newEmail, password: 'a-new-password' } });
      alice.account.email = newEmail;
      alice.password = 'a-new-password';
    });

    it('cannot change their own role', async () => {
      const err = await expectError(
        alice.client.accounts.updateAccount({ id: alice.account.id, accountUpdate: { role: 'admin' } }),
        403,
        'forbidden',
      );
      expect(err.details?.field).to.equal('role');
      expect((await alice.client.users.getCurrentUser()).data.role).to.equal('user');
    });

    it('gets 404 for another account, and changes nothing', async () => {
      await expectError(alice.client.accounts.getAccount({ id: bob.account.id }), 404, 'not_found');
      await expectError(
        alice.client.accounts.updateAccount({ id: bob.account.id, accountUpdate: { name: 'Hacked' } }),
        404,
        'not_found',
      );
      await expectError(alice.client.accounts.deleteAccount({ id: bob.account.id }), 404, 'not_found');
      expect((await bob.client.users.getCurrentUser()).data.name).not.to.equal('Hacked');
    });

    it('cannot list, create or delete accounts (403)', async () => {
      await expectError(alice.client.accounts.listAccounts(), 403, 'forbidden');
      const email = uniqueEmail();
      await expectError(
        alice.client.accounts.createAccount({ accountCreate: { name: 'X', email, password: 'password1' } }),
        403,
        'forbidden',
      );
      expect(await server.db('accounts').where({ email })).to.deep.equal([]);
      await expectError(alice.client.accounts.deleteAccount({ id: alice.account.id }), 403, 'forbidden');
      expect((await alice.client.users.getCurrentUser()).status).to.equal(200);
    });
  });
});
