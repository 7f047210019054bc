import { createTestDatabase, dropTestDatabase } from './database';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await createTestDatabase();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await dropTestDatabase();
  },
};
