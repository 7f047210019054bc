/**
 * The web console in a real browser (Debian's chromium driven by playwright-core) against a real
 * test server: log in, write a flow with an error and see it at its line, fix it, run it from the
 * generated form and watch it finish live, see a failure on its node, approve a waiting execution,
 * create an API key that works, create a schedule and a webhook trigger from a flow page (the
 * server's errors shown), filter executions by trigger and time, another account's execution is
 * "not found", log out (the token is revoked). With CONSOLE_SCREENSHOTS=1 it also saves the
 * README's screenshots in console/screenshots/.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { apiClient, expectError } from '../support/client';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS =
  process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(__dirname, '..', '..', 'console', 'screenshots') : null;
/** Playwright's own waits (for a selector, a text) give up after this long. */
const WAIT_MS = 15_000;

const GREETER_WITH_ERROR = `inputs:
  type: object
  required: [name]
  properties: {name: {type: string}}
nodes:
  start:
    type: delay
    params: {ms: 400}
    next: nowhere
`;
const GREETER = `inputs:
  type: object
  required: [name]
  properties: {name: {type: string}}
nodes:
  start:
    type: delay
    params: {ms: 400}
    next: greet
  greet:
    type: transform
    params: {expression: "{'greeting': 'Hello ' & input.name}"}
`;
const APPROVAL = `nodes:
  start:
    type: approval
    params: {}
    next: {approved: done, rejected: done}
  done:
    type: log
    params: {message: "decided"}
`;
const FAILING = `nodes:
  start:
    type: log
    params: {message: "about to fail"}
    next: boom
  boom:
    type: fail
    params: {message: "it broke on purpose"}
`;

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The console's stored token (the test's own code runs in Node; this expression in the page). */
const storedToken = (page: Page) => page.evaluate<string | null>("sessionStorage.getItem('flowrunner.console.token')");

/** Replaces the editor's text as typing would (insertText: no auto-indent of pasted lines). */
async function setEditorText(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

describe('the web console in a browser', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let ada: TestAccount;
  let bob: TestAccount;

  before(async () => {
    server = await startTestServer();
    ada = await makeAccount(server, { name: 'Ada' });
    bob = await makeAccount(server, { name: 'Bob' });
    // The server builds the console on its first request for it: meanwhile, the browser starts.
    const launched = chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    const built = await fetch(`${server.url}/console/app.js`);
    expect(built.status).to.equal(200);
    browser = await launched;
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(WAIT_MS);
    if (SCREENSHOTS) fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('GET / leads a browser to the console and still answers API clients in JSON', async () => {
    const asApi = await fetch(`${server.url}/`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    expect(asApi.status).to.equal(404);
    expect(((await asApi.json()) as { error: { code: string } }).error.code).to.equal('not_found');
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).to.equal('/console');
    await page.getByRole('heading', { name: 'Log in to FlowRunner' }).waitFor();
  });

  it('refuses a wrong password with a readable message, then logs in', async () => {
    await page.getByLabel('Email').fill(ada.account.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Password').fill(ada.password);
    await screenshot(page, 'login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Flows' }).waitFor();
    const token = await storedToken(page);
    expect(token).to.be.a('string');
    expect(page.url()).not.to.include(token!);
  });

  it("shows the server's validation error at its line, then saves the fixed flow", async () => {
    await page.getByRole('link', { name: 'New flow' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Greeter');
    await setEditorText(page, GREETER_WITH_ERROR);
    await page.getByRole('button', { name: 'Save' }).click();
    const problem = page.getByRole('list', { name: 'Problems in the definition' }).getByRole('listitem');
    await expect(await problem.innerText()).to.match(/^Line 9:5\b.*next target "nowhere" is not a node/);
    // The editor marks the line itself: the ninth line holds the error's range.
    await page.locator('.cm-line').nth(8).locator('.cm-lintRange-error').waitFor();
    await screenshot(page, 'flow-error');
    await setEditorText(page, GREETER);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Flow Greeter' }).waitFor();
    expect(await page.locator('.problems').count()).to.equal(0);
    const { data } = await ada.client.flows.listFlows({});
    expect(data.flows.map((f) => f.name)).to.deep.equal(['Greeter']);
  });

  it('runs the flow from a form made from its inputs and watches it complete live', async () => {
    await page.getByRole('link', { name: 'Run', exact: true }).click();
    await page.getByLabel('name').fill('Ada');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByRole('heading', { name: /^Execution exec-/ }).waitFor();
    // The page was loaded while the delay ran; only the WebSocket can turn it green.
    await page.locator('[data-node="greet"][data-status="completed"]').waitFor();
    await page.locator('.status-completed', { hasText: 'completed' }).first().waitFor();
    expect(await page.getByText('"greeting": "Hello Ada"').count()).to.equal(1);
    await screenshot(page, 'execution');
    const id = page.url().split('/').pop()!;
    const { data } = await ada.client.executions.getExecution({ id });
    expect(data).to.include({ status: 'completed' });
  });

  it('shows a failed run with its error on the failed node', async () => {
    const flowId = await makeFlow(ada, FAILING, 'Failing');
    const { data } = await ada.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await page.goto(`${server.url}/console#/executions/${data.execution_id}`);
    await page.locator('[data-node="boom"][data-status="failed"]').waitFor();
    await page.locator('[data-node-state="boom"]').filter({ hasText: 'it broke on purpose' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'it broke on purpose' }).first().waitFor();
    await page.getByRole('row').filter({ hasText: 'boom' }).filter({ hasText: 'it broke on purpose' }).waitFor();
    const logs = page.getByRole('log', { name: 'Execution logs' });
    await logs.getByText('about to fail').waitFor();
    await page.getByLabel('Level').selectOption('error');
    await logs.getByText('about to fail').waitFor({ state: 'detached' });
    await page.getByLabel('Level').selectOption('');
    await logs.getByText('about to fail').waitFor();
  });

  it('lists executions with a status filter, updated live', async () => {
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('heading', { name: 'Executions' }).waitFor();
    await page.getByLabel('Status').selectOption('failed');
    // Until the filtered page arrives the unfiltered one shows: wait for its completed run to go.
    await page.locator('tbody tr').filter({ hasText: 'completed' }).waitFor({ state: 'detached' });
    expect(await page.locator('tbody tr').allInnerTexts())
      .to.have.lengthOf(1)
      .and.satisfy((rows: string[]) => rows.every((row) => row.includes('failed')));
    await page.getByLabel('Status').selectOption('');
    const flowId = await makeFlow(ada, APPROVAL, 'Approval');
    const { data } = await ada.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    // Started elsewhere: the list shows it without a reload.
    await page.locator(`tr[data-execution="${data.execution_id}"]`).filter({ hasText: 'waiting' }).waitFor();
    await screenshot(page, 'executions');
  });

  it('approves a waiting execution with a comment, and it goes on', async () => {
    const waiting = await page.locator('tr', { hasText: 'waiting' }).first().getAttribute('data-execution');
    await page.getByRole('link', { name: waiting! }).click();
    await page.getByRole('heading', { name: 'Waiting for approval at start' }).waitFor();
    await page.getByLabel('Comment').fill('Looks right');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.locator('[data-node="done"][data-status="completed"]').waitFor();
    const { data } = await ada.client.executions.getExecution({ id: waiting! });
    expect(data).to.include({ status: 'completed', approval_status: 'approved' });
  });

  it('shows a decision made elsewhere live, over the WebSocket', async () => {
    const [flow] = (await ada.client.flows.listFlows({})).data.flows.filter((f) => f.name === 'Approval');
    const { data } = await ada.client.executions.runFlow({ id: flow.id, runFlowRequest: { input: {} } });
    await page.goto(`${server.url}/console#/executions/${data.execution_id}`);
    await page.locator('[data-node="start"][data-status="waiting"]').waitFor();
    await ada.client.hitl.approveExecution({ id: data.execution_id, decision: { comment: 'from a script' } });
    await page.locator('[data-node="done"][data-status="completed"]').waitFor();
    await page.locator('.status-completed', { hasText: 'completed' }).first().waitFor();
  });

  it("says not found for another account's execution", async () => {
    const flowId = await makeFlow(bob, FAILING);
    const { data } = await bob.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await page.goto(`${server.url}/console#/executions/${data.execution_id}`);
    await page
      .getByRole('alert')
      .filter({ hasText: /not found/i })
      .waitFor();
  });

  it('creates an API key shown once that works, and revokes it', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByLabel('Key name').fill('ci');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.locator('code.new-key').innerText();
    await screenshot(page, 'account');
    const me = await apiClient(server.url, { apiKey: key }).users.getCurrentUser();
    expect(me.data.id).to.equal(ada.account.id);
    await page.getByRole('button', { name: 'Revoke ci' }).click();
    await page.getByRole('button', { name: 'Revoke ci' }).waitFor({ state: 'detached' });
    await expectError(apiClient(server.url, { apiKey: key }).users.getCurrentUser(), 401, 'unauthorized');
  });

  it("creates a schedule from the flow page (the server's error shown first), pauses and deletes it", async () => {
    const [flow] = (await ada.client.flows.listFlows({})).data.flows.filter((f) => f.name === 'Greeter');
    await page.goto(`${server.url}/console#/flows/${flow.id}`);
    await page.getByLabel('Cron expression').fill('every day at 3');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByLabel('Input (JSON)').fill('{"name": "cron"}');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByRole('alert').filter({ hasText: 'cron' }).waitFor();
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByRole('table', { name: 'Schedules' }).getByText('0 3 * * * (Europe/Paris)').waitFor();
    const [schedule] = (await ada.client.schedules.listSchedules({ flowId: flow.id })).data.schedules;
    expect(schedule).to.include({ cron: '0 3 * * *', timezone: 'Europe/Paris', paused: false });
    expect(schedule.input).to.deep.equal({ name: 'cron' });
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect((await ada.client.schedules.getSchedule({ id: schedule.id })).data.paused).to.equal(true);
    await page.getByRole('button', { name: 'Delete schedule 0 3 * * * (Europe/Paris)' }).click();
    await page.getByRole('table', { name: 'Schedules' }).waitFor({ state: 'detached' });
    await expectError(ada.client.schedules.getSchedule({ id: schedule.id }), 404, 'not_found');
  });

  it('creates a webhook trigger from the flow page (URL and secret shown once) that starts the flow, and filters executions by trigger and time', async () => {
    // A webhook's input is the call (method, headers, body): a flow without an inputs schema.
    const [flow] = (await ada.client.flows.listFlows({})).data.flows.filter((f) => f.name === 'Approval');
    await page.goto(`${server.url}/console#/flows/${flow.id}`);
    await page.getByRole('button', { name: 'Create webhook trigger' }).click();
    const url = await page.locator('code.new-webhook-url').innerText();
    const secret = await page.locator('code.new-webhook-secret').innerText();
    const table = page.getByRole('table', { name: 'Webhook triggers' });
    await table.locator('tbody tr').first().waitFor();
    const webhookId = await table.locator('tbody tr').first().getAttribute('data-webhook');
    const body = JSON.stringify({ name: 'hook' });
    const signature = `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
      body,
    });
    expect(res.status).to.equal(202);
    const started = (await ada.client.executions.listExecutions({ triggerType: 'webhook', triggerId: webhookId! }))
      .data;
    expect(started.total).to.equal(1);
    await page.getByRole('button', { name: `Delete webhook trigger ${webhookId}` }).click();
    await table.waitFor({ state: 'detached' });
    expect((await fetch(url, { method: 'POST', body })).status).to.equal(404);

    // The executions list filters on the server by trigger and by creation time.
    const executionId = started.executions[0].id;
    await page.goto(`${server.url}/console#/executions`);
    await page.getByLabel('Trigger', { exact: true }).selectOption('webhook');
    // Until the filtered page arrives the unfiltered one (several runs) shows.
    await page.locator(`tbody tr:not([data-execution="${executionId}"])`).first().waitFor({ state: 'detached' });
    await page.locator(`tr[data-execution="${executionId}"]`).waitFor();
    expect(
      await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-execution'))),
    ).to.deep.equal([executionId]);
    await page.getByLabel('Created before').fill('2000-01-01T00:00');
    await page.getByText('No executions.').waitFor();
    await page.getByLabel('Created before').fill('');
    await page.getByLabel('Created from').fill('2000-01-01T00:00');
    await page.locator(`tr[data-execution="${executionId}"]`).waitFor();
    await page.getByLabel('Trigger', { exact: true }).selectOption('schedule');
    await page.getByText('No executions.').waitFor();
  });

  it('works at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Flows' }).click();
    await page.getByRole('link', { name: 'Greeter', exact: true }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).to.be.at.most(0);
    await screenshot(page, 'flows-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('logs out and revokes the token', async () => {
    const token = await storedToken(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to FlowRunner' }).waitFor();
    expect(await storedToken(page)).to.equal(null);
    await expectError(apiClient(server.url, { token: token! }).users.getCurrentUser(), 401, 'unauthorized');
  });
});
