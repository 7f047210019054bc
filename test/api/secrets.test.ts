import { expect } from 'chai';
import { SecretBox } from '../../src/security/secret-box';
import { expectError } from '../support/client';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, TEST_ENCRYPTION_KEY, type TestServer } from '../support/server';
import { personalOrganizationId } from '../../src/services/ownership';

describe('secrets', () => {
  let server: TestServer;
  let admin: TestAccount;
  let alice: TestAccount;
  let bob: TestAccount;
  const VALUE = 'sk_live_super-secret-value-123';
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(() => server.close());

  it('creates (201), replaces (200), lists and deletes, never returning a value', async () => {
    const created = await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'API_KEY', value: VALUE },
    });
    expect(created.status).to.equal(201);
    expect(created.data).to.have.keys('key', 'created_at', 'updated_at');
    const replaced = await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'API_KEY', value: VALUE + '-2' },
    });
    expect(replaced.status).to.equal(200);
    expect(replaced.data.created_at).to.equal(created.data.created_at);

    const list = await alice.client.secrets.listSecrets({ accountId: alice.account.id });
    expect(list.data.secrets.map((s) => s.key)).to.deep.equal(['API_KEY']);
    for (const body of [created.data, replaced.data, list.data]) expect(JSON.stringify(body)).not.to.contain(VALUE);

    expect(
      (await alice.client.secrets.deleteSecret({ accountId: alice.account.id, key: 'API_KEY' })).data,
    ).to.deep.equal({
      message: 'Secret deleted successfully',
    });
    expect((await alice.client.secrets.listSecrets({ accountId: alice.account.id })).data.secrets).to.deep.equal([]);
    await expectError(
      alice.client.secrets.deleteSecret({ accountId: alice.account.id, key: 'API_KEY' }),
      404,
      'not_found',
    );
  });

  it('stores only ciphertext, and tampered ciphertext fails to decrypt', async () => {
    await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'DB_PASSWORD', value: VALUE },
    });
    const [row] = await server.db('secrets').where({ account_id: alice.account.id, key: 'DB_PASSWORD' });
    expect(Buffer.isBuffer(row.ciphertext)).to.equal(true);
    expect(row.ciphertext.toString('utf8')).not.to.contain(VALUE);
    expect(row.ciphertext.toString('latin1')).not.to.contain(VALUE);

    const box = new SecretBox(TEST_ENCRYPTION_KEY);
    const context = `secret:${alice.account.id}:DB_PASSWORD`;
    expect(box.open(row.ciphertext, context)).to.equal(VALUE);
    const tampered = Buffer.from(row.ciphertext);
    tampered[tampered.length - 1] ^= 0x01;
    expect(() => box.open(tampered, context)).to.throw();
    // Moved to another account's row, it does not decrypt either.
    expect(() => box.open(row.ciphertext, `secret:${bob.account.id}:DB_PASSWORD`)).to.throw();
  });

  it('resolves values for a run and masks them', async () => {
    await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'TOKEN', value: 'tok-abcdef' },
    });
    const run = await server.services.secrets.resolveForRun(personalOrganizationId(alice.account.id));
    expect(run.values.TOKEN).to.equal('tok-abcdef');
    expect(run.masker.json({ url: 'https://x/?t=tok-abcdef', list: ['tok-abcdef'] })).to.deep.equal({
      url: 'https://x/?t=***',
      list: ['***'],
    });
  });

  it('validates keys and value sizes', async () => {
    const err = await expectError(
      alice.client.secrets.putSecret({ accountId: alice.account.id, secretWrite: { key: 'lower-case', value: 'v' } }),
      400,
      'invalid_request',
    );
    expect(err.details?.field).to.equal('key');
    await expectError(
      alice.client.secrets.putSecret({
        accountId: alice.account.id,
        secretWrite: { key: 'BIG', value: 'x'.repeat(65537) },
      }),
      400,
      'invalid_request',
    );
  });

  it("another user's secrets are 404, and an admin manages any", async () => {
    await bob.client.secrets.putSecret({ accountId: bob.account.id, secretWrite: { key: 'BOBS', value: 'b' } });
    await expectError(alice.client.secrets.listSecrets({ accountId: bob.account.id }), 404, 'not_found');
    await expectError(
      alice.client.secrets.putSecret({ accountId: bob.account.id, secretWrite: { key: 'BOBS', value: 'evil' } }),
      404,
      'not_found',
    );
    await expectError(alice.client.secrets.deleteSecret({ accountId: bob.account.id, key: 'BOBS' }), 404, 'not_found');
    expect((await server.services.secrets.resolveForRun(personalOrganizationId(bob.account.id))).values.BOBS).to.equal(
      'b',
    );

    expect(
      (await admin.client.secrets.listSecrets({ accountId: bob.account.id })).data.secrets.map((s) => s.key),
    ).to.deep.equal(['BOBS']);
    expect(
      (
        await admin.client.secrets.putSecret({
          accountId: bob.account.id,
          secretWrite: { key: 'FROM_ADMIN', value: 'a' },
        })
      ).status,
    ).to.equal(201);
    await admin.client.secrets.deleteSecret({ accountId: bob.account.id, key: 'FROM_ADMIN' });
    await expectError(admin.client.secrets.listSecrets({ accountId: 'acct-missing' }), 404, 'not_found');
  });
});
