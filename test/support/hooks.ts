/**
 * The global fixtures run once per `mocha` invocation, in its main process; the root hooks run in
 * whichever process runs a test file — once per file in parallel mode, once per run in serial mode.
 */
import { createFileDatabase, dropFileDatabase, setUpTestRun, tearDownTestRun } from './database';

export async function mochaGlobalSetup(): Promise<void> {
  await setUpTestRun();
}

export async function mochaGlobalTeardown(): Promise<void> {
  await tearDownTestRun();
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await createFileDatabase();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await dropFileDatabase();
  },
};
