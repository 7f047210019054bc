import { expect } from 'chai';
import { type OverlapPolicy, type ScheduleFire } from '../../generated/client/index';
import { createLogger } from '../../src/log';
import { Scheduler } from '../../src/services/scheduler';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const QUICK = 'nodes:\n  start:\n    type: log\n    params: {message: "{{ input.at }}"}\n';
/** Waits for an approval: an execution that stays unfinished until it is cancelled. */
const WAITS =
  'nodes:\n  start:\n    type: approval\n    next: {approved: done}\n  done:\n    type: log\n    params: {message: done}\n';

const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

describe('schedules: flows that start themselves on a clock', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let quick: string;
  let waits: string;
  /** The schedules' clock: the tests move it; no test waits for real time to pass. */
  let now = at('2026-03-01T00:00:00Z');
  let scheduler: Scheduler;

  before(async () => {
    server = await startTestServer();
    server.services.clock.use(() => now);
    scheduler = new Scheduler(server.db, server.services.scheduleFiring, server.services.clock, createLogger('silent'));
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    quick = await makeFlow(alice, QUICK);
    waits = await makeFlow(alice, WAITS);
  });
  after(async () => {
    await server.close();
  });
  // A schedule a failed test left behind would fire on every later tick of the moving clock.
  afterEach(async () => {
    await server.db('schedules').delete();
  });

  /** Moves the clock and runs one tick of the firing loop. */
  const tickAt = async (time: string) => {
    now = at(time);
    return scheduler.tick();
  };
  const fires = async (id: string): Promise<ScheduleFire[]> =>
    (await alice.client.schedules.listScheduleFires({ id, limit: 100 })).data.fires.slice().reverse();
  const summary = (list: ScheduleFire[]) =>
    list.map((f) => `${f.scheduled_at} ${f.status}${f.reason ? ` ${f.reason}` : ''}`);
  const cancel = (id: string) => alice.client.executions.cancelExecution({ id });

  it('creates a cron schedule in a time zone and previews its next five fire times', async () => {
    now = at('2026-05-04T10:00:00Z');
    const { data, status } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
      },
    });
    expect(status).to.equal(201);
    expect(data).to.include({ flow_id: quick, cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', overlap_policy: 'skip' });
    expect(data.paused).to.equal(false);
    expect(data.pause).to.equal(null);
    expect(data.next_fire_times).to.deep.equal([
      '2026-05-05T07:00:00.000Z',
      '2026-05-06T07:00:00.000Z',
      '2026-05-07T07:00:00.000Z',
      '2026-05-08T07:00:00.000Z',
      '2026-05-11T07:00:00.000Z',
    ]);
    expect(data.last_fires).to.deep.equal([]);
    const { data: named } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, cron: '@daily' },
    });
    expect(named.next_fire_times[0]).to.equal('2026-05-05T00:00:00.000Z');
    const { data: seconds } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, cron: '*/15 * * * * *' },
    });
    expect(seconds.next_fire_times.slice(0, 2)).to.deep.equal(['2026-05-04T10:00:15.000Z', '2026-05-04T10:00:30.000Z']);
    await alice.client.schedules.deleteSchedule({ id: data.id });
    await alice.client.schedules.deleteSchedule({ id: named.id });
    await alice.client.schedules.deleteSchedule({ id: seconds.id });
  });

  it('refuses a bad cron, an unknown time zone, both or neither clock, a version the flow lacks (422)', async () => {
    for (const body of [
      { flow_id: quick, cron: '61 * * * *' },
      { flow_id: quick, cron: '1 2 3' },
      { flow_id: quick, cron: '2026-05-01T00:00:00' },
      { flow_id: quick, cron: '@fortnightly' },
      { flow_id: quick, cron: '0 2 * * *', timezone: 'Mars/Olympus_Mons' },
      { flow_id: quick, cron: '0 2 * * *', interval_seconds: 60 },
      { flow_id: quick },
      { flow_id: quick, cron: '0 2 * * *', flow_version: 9 },
      { flow_id: quick, cron: '0 2 * * *', input: { x: '{{ trigger.( }}' } },
    ]) {
      const error = await expectError(
        alice.client.schedules.createSchedule({ scheduleCreate: body }),
        422,
        'validation_error',
      );
      expect(error.details, JSON.stringify(body)).to.have.property('field');
    }
    await expectError(
      alice.client.schedules.createSchedule({
        scheduleCreate: { flow_id: quick, cron: '0 2 * * *', extra: 1 } as never,
      }),
      400,
      'invalid_request',
    );
  });

  it('fires a time that does not exist (spring forward) once, at the first valid time after the gap', async () => {
    // Europe/Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    now = at('2026-03-28T12:00:00Z');
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        cron: '30 2 * * *',
        timezone: 'Europe/Berlin',
        overlap_policy: 'allow',
        input: { at: '{{ trigger.scheduled_at }}', fired: '{{ trigger.fired_at }}' },
      },
    });
    expect(s.next_fire_times.slice(0, 3)).to.deep.equal([
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the end of the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(await tickAt('2026-03-29T00:59:59Z')).to.deep.equal([]);
    for (const t of [
      '2026-03-29T01:00:00.400Z',
      '2026-03-29T01:30:00Z',
      '2026-03-29T23:59:00Z',
      '2026-03-30T00:30:00.200Z',
    ])
      await tickAt(t);
    const ledger = await fires(s.id);
    expect(summary(ledger)).to.deep.equal(['2026-03-29T01:00:00.000Z fired', '2026-03-30T00:30:00.000Z fired']);
    const ex = await waitForExecution(alice, ledger[0].execution_id!);
    expect(ex.status).to.equal('completed');
    expect(ex.trigger).to.deep.equal({ type: 'schedule', id: s.id, scheduled_at: '2026-03-29T01:00:00.000Z' });
    expect(ex.input).to.deep.equal({ at: '2026-03-29T01:00:00.000Z', fired: '2026-03-29T01:00:00.400Z' });
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('fires a time that happens twice (fall back) once, at the first', async () => {
    // Europe/Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    now = at('2026-10-24T12:00:00Z');
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        cron: '30 2 * * *',
        timezone: 'Europe/Berlin',
        overlap_policy: 'allow',
      },
    });
    expect(s.next_fire_times.slice(0, 2)).to.deep.equal(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    for (const t of ['2026-10-25T00:30:01Z', '2026-10-25T01:30:01Z', '2026-10-25T12:00:00Z', '2026-10-26T01:30:02Z'])
      await tickAt(t);
    expect(summary(await fires(s.id))).to.deep.equal([
      '2026-10-25T00:30:00.000Z fired',
      '2026-10-26T01:30:00.000Z fired',
    ]);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('keeps an hourly cron in real time through the autumn change: 25 fires that day', async () => {
    now = at('2026-10-24T21:30:00Z'); // 23:30 CEST
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        cron: '0 * * * *',
        timezone: 'Europe/Berlin',
        overlap_policy: 'allow',
      },
    });
    // Local midnight to midnight is 25 hours that day: 22:00Z on the 24th to 23:00Z on the 25th.
    for (let h = 0; h <= 25; h++) await tickAt(iso(new Date(Date.UTC(2026, 9, 24, 22 + h, 0, 1))));
    const ledger = await fires(s.id);
    const day = ledger.filter(
      (f) => f.scheduled_at >= '2026-10-24T22:00:00.000Z' && f.scheduled_at < '2026-10-25T23:00:00.000Z',
    );
    expect(day).to.have.length(25);
    expect(day.every((f) => f.status === 'fired')).to.equal(true);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('fires an interval schedule from its start time, each time once however often it ticks', async () => {
    now = at('2026-06-01T00:00:00Z');
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        interval_seconds: 600,
        starts_at: '2026-06-01T00:05:00Z',
        overlap_policy: 'allow',
      },
    });
    expect(s.next_fire_times.slice(0, 2)).to.deep.equal(['2026-06-01T00:05:00.000Z', '2026-06-01T00:15:00.000Z']);
    for (const t of ['2026-06-01T00:05:00Z', '2026-06-01T00:05:00Z', '2026-06-01T00:10:00Z', '2026-06-01T00:15:00Z'])
      await tickAt(t);
    expect(summary(await fires(s.id))).to.deep.equal([
      '2026-06-01T00:05:00.000Z fired',
      '2026-06-01T00:15:00.000Z fired',
    ]);
    const { data: list } = await alice.client.executions.listExecutions({
      limit: 100,
      triggerType: 'schedule',
      triggerId: s.id,
    });
    expect(list.executions.map((e) => e.trigger?.scheduled_at).sort()).to.deep.equal([
      '2026-06-01T00:05:00.000Z',
      '2026-06-01T00:15:00.000Z',
    ]);
    const { data: got } = await alice.client.schedules.getSchedule({ id: s.id });
    expect(got.last_fires.map((f) => f.scheduled_at)).to.deep.equal([
      '2026-06-01T00:15:00.000Z',
      '2026-06-01T00:05:00.000Z',
    ]);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  /** An interval schedule of `waits` (executions that stay unfinished until cancelled), every minute from `start`. */
  const waitingSchedule = async (start: string, policy: OverlapPolicy, extra: object = {}) => {
    now = at(start);
    return (
      await alice.client.schedules.createSchedule({
        scheduleCreate: {
          flow_id: waits,
          interval_seconds: 60,
          starts_at: iso(new Date(at(start).getTime() + 60_000)),
          overlap_policy: policy,
          ...extra,
        },
      })
    ).data;
  };
  const minute = (start: string, n: number) => iso(new Date(at(start).getTime() + n * 60_000));

  it('overlap skip (the default): a time due while the previous run goes on is skipped, with the reason', async () => {
    const t0 = '2026-07-01T00:00:00.000Z';
    const s = await waitingSchedule(t0, 'skip');
    await tickAt(minute(t0, 1));
    await tickAt(minute(t0, 2));
    let ledger = await fires(s.id);
    expect(summary(ledger)).to.deep.equal([`${minute(t0, 1)} fired`, `${minute(t0, 2)} skipped overlap`]);
    await cancel(ledger[0].execution_id!);
    await tickAt(minute(t0, 3));
    ledger = await fires(s.id);
    expect(summary(ledger)).to.deep.equal([
      `${minute(t0, 1)} fired`,
      `${minute(t0, 2)} skipped overlap`,
      `${minute(t0, 3)} fired`,
    ]);
    await cancel(ledger[2].execution_id!);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('overlap buffer_one: keeps one time and fires it when the previous run finishes; a further one is skipped', async () => {
    const t0 = '2026-07-02T00:00:00.000Z';
    const s = await waitingSchedule(t0, 'buffer_one');
    for (const n of [1, 2, 3]) await tickAt(minute(t0, n));
    let ledger = await fires(s.id);
    expect(summary(ledger)).to.deep.equal([
      `${minute(t0, 1)} fired`,
      `${minute(t0, 2)} buffered`,
      `${minute(t0, 3)} skipped overlap`,
    ]);
    await cancel(ledger[0].execution_id!);
    await tickAt(minute(t0, 3.5));
    ledger = await fires(s.id);
    expect(ledger[1]).to.include({ status: 'fired', scheduled_at: minute(t0, 2) });
    expect(ledger[1].execution_id).to.be.a('string').and.not.equal(ledger[0].execution_id);
    const ex = (await alice.client.executions.getExecution({ id: ledger[1].execution_id! })).data;
    expect(ex.trigger).to.deep.equal({ type: 'schedule', id: s.id, scheduled_at: minute(t0, 2) });
    await cancel(ledger[1].execution_id!);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('overlap allow runs alongside; cancel_previous cancels the run still going', async () => {
    const t0 = '2026-07-03T00:00:00.000Z';
    const allow = await waitingSchedule(t0, 'allow');
    for (const n of [1, 2]) await tickAt(minute(t0, n));
    const allowed = await fires(allow.id);
    expect(summary(allowed)).to.deep.equal([`${minute(t0, 1)} fired`, `${minute(t0, 2)} fired`]);
    for (const f of allowed) await waitForExecution(alice, f.execution_id!, ['waiting']);
    for (const f of allowed) await cancel(f.execution_id!);
    await alice.client.schedules.deleteSchedule({ id: allow.id });

    const t1 = '2026-07-04T00:00:00.000Z';
    const replace = await waitingSchedule(t1, 'cancel_previous');
    for (const n of [1, 2]) await tickAt(minute(t1, n));
    const replaced = await fires(replace.id);
    expect(summary(replaced)).to.deep.equal([`${minute(t1, 1)} fired`, `${minute(t1, 2)} fired`]);
    const first = (await alice.client.executions.getExecution({ id: replaced[0].execution_id! })).data;
    expect(first.status).to.equal('cancelled');
    expect(first.error).to.match(/overlap policy cancel_previous/);
    await waitForExecution(alice, replaced[1].execution_id!, ['waiting']);
    await cancel(replaced[1].execution_id!);
    await alice.client.schedules.deleteSchedule({ id: replace.id });
  });

  it('after downtime fires only the latest missed time by default, and every missed time is in the ledger', async () => {
    const t0 = '2026-08-01T00:00:00.000Z';
    now = at(t0);
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, interval_seconds: 60 },
    });
    const outcomes = await tickAt(minute(t0, 10.5));
    expect(outcomes).to.have.length(10);
    const ledger = await fires(s.id);
    expect(ledger.map((f) => f.scheduled_at)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => minute(t0, n)));
    expect(ledger.slice(0, 9).every((f) => f.status === 'skipped' && f.reason === 'outside_catchup_window')).to.equal(
      true,
    );
    expect(ledger[9].status).to.equal('fired');
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('with a catch-up window fires the missed times within it (overlap policy applies), never a storm', async () => {
    const t0 = '2026-08-02T00:00:00.000Z';
    now = at(t0);
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        interval_seconds: 60,
        catchup_window_seconds: 300,
        overlap_policy: 'allow',
      },
    });
    await tickAt(minute(t0, 10.5));
    const ledger = await fires(s.id);
    // Within 5 minutes of 00:10:30: 00:06 … 00:10.
    expect(summary(ledger)).to.deep.equal([
      ...[1, 2, 3, 4, 5].map((n) => `${minute(t0, n)} skipped outside_catchup_window`),
      ...[6, 7, 8, 9, 10].map((n) => `${minute(t0, n)} fired`),
    ]);
    await alice.client.schedules.deleteSchedule({ id: s.id });

    // A window over 30 missed times still starts at most 10.
    now = at(t0);
    const { data: wide } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        interval_seconds: 60,
        catchup_window_seconds: 86_400,
        overlap_policy: 'allow',
      },
    });
    await tickAt(minute(t0, 30.5));
    const wideLedger = await fires(wide.id);
    expect(wideLedger).to.have.length(30);
    expect(wideLedger.filter((f) => f.status === 'fired').map((f) => f.scheduled_at)).to.deep.equal(
      [21, 22, 23, 24, 25, 26, 27, 28, 29, 30].map((n) => minute(t0, n)),
    );
    await alice.client.schedules.deleteSchedule({ id: wide.id });
  });

  it('pause records who paused it and why; its due times are skipped (paused); resume fires again', async () => {
    const t0 = '2026-09-01T00:00:00.000Z';
    now = at(t0);
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, interval_seconds: 60 },
    });
    now = at(minute(t0, 0.5));
    const { data: paused } = await alice.client.schedules.pauseSchedule({
      id: s.id,
      schedulePause: { note: 'database migration' },
    });
    expect(paused.paused).to.equal(true);
    expect(paused.pause).to.deep.equal({ by: alice.account.id, at: minute(t0, 0.5), note: 'database migration' });
    expect(paused.next_fire_times).to.have.length(5);
    await tickAt(minute(t0, 1));
    now = at(minute(t0, 2.5));
    // Resuming records the time that came due while paused (not yet seen by the loop) as paused too.
    const { data: resumed } = await alice.client.schedules.resumeSchedule({ id: s.id });
    expect(resumed.paused).to.equal(false);
    expect(resumed.pause).to.equal(null);
    await tickAt(minute(t0, 3));
    expect(summary(await fires(s.id))).to.deep.equal([
      `${minute(t0, 1)} skipped paused`,
      `${minute(t0, 2)} skipped paused`,
      `${minute(t0, 3)} fired`,
    ]);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('backfill starts the runs of past times (marked as backfills), leaves fired times alone, and is bounded', async () => {
    const t0 = '2026-09-10T00:00:00.000Z';
    now = at(minute(t0, 4.5));
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        interval_seconds: 60,
        starts_at: t0,
        overlap_policy: 'allow',
      },
    });
    await tickAt(minute(t0, 5));
    const { data } = await alice.client.schedules.backfillSchedule({
      id: s.id,
      backfillRequest: { from: minute(t0, 1), to: minute(t0, 5) },
    });
    expect(summary(data.fires)).to.deep.equal([
      ...[1, 2, 3, 4].map((n) => `${minute(t0, n)} backfilled`),
      `${minute(t0, 5)} fired`,
    ]);
    const ex = (await alice.client.executions.getExecution({ id: data.fires[0].execution_id! })).data;
    expect(ex.trigger).to.deep.equal({ type: 'schedule', id: s.id, scheduled_at: minute(t0, 1), backfill: true });
    // Again: nothing new.
    const { data: again } = await alice.client.schedules.backfillSchedule({
      id: s.id,
      backfillRequest: {
        from: minute(t0, 1),
        to: minute(t0, 5),
      },
    });
    expect(again.fires.map((f) => f.execution_id)).to.deep.equal(data.fires.map((f) => f.execution_id));
    // The future is not backfilled, nor more than 100 times at once.
    await expectError(
      alice.client.schedules.backfillSchedule({
        id: s.id,
        backfillRequest: { from: minute(t0, 1), to: minute(t0, 60) },
      }),
      422,
      'validation_error',
    );
    now = at(minute(t0, 500));
    await expectError(
      alice.client.schedules.backfillSchedule({
        id: s.id,
        backfillRequest: { from: minute(t0, 1), to: minute(t0, 150) },
      }),
      422,
      'validation_error',
    );
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('backfill follows the overlap policy: with skip, the times after a run still going are skipped', async () => {
    const t0 = '2026-09-11T00:00:00.000Z';
    now = at(minute(t0, 10));
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: waits,
        interval_seconds: 60,
        starts_at: t0,
      },
    });
    const { data } = await alice.client.schedules.backfillSchedule({
      id: s.id,
      backfillRequest: { from: minute(t0, 1), to: minute(t0, 3) },
    });
    expect(summary(data.fires)).to.deep.equal([
      `${minute(t0, 1)} backfilled`,
      `${minute(t0, 2)} skipped overlap`,
      `${minute(t0, 3)} skipped overlap`,
    ]);
    await cancel(data.fires[0].execution_id!);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('updates a schedule (the next times follow), lists them, and keeps other accounts out (404)', async () => {
    now = at('2026-05-04T10:00:00Z');
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, cron: '0 9 * * *' },
    });
    const { data: changed } = await alice.client.schedules.updateSchedule({
      id: s.id,
      scheduleUpdate: {
        cron: null,
        interval_seconds: 3600,
        starts_at: '2026-05-04T10:30:00Z',
      },
    });
    expect(changed).to.include({ cron: null, interval_seconds: 3600 });
    expect(changed.next_fire_times[0]).to.equal('2026-05-04T10:30:00.000Z');
    await expectError(
      alice.client.schedules.updateSchedule({ id: s.id, scheduleUpdate: { interval_seconds: null } }),
      422,
      'validation_error',
    );
    const { data: list } = await alice.client.schedules.listSchedules({ flowId: quick });
    expect(list.schedules.map((x) => x.id)).to.include(s.id);
    expect((await bob.client.schedules.listSchedules()).data.schedules).to.deep.equal([]);
    await expectError(bob.client.schedules.getSchedule({ id: s.id }), 404, 'not_found');
    await expectError(
      bob.client.schedules.updateSchedule({ id: s.id, scheduleUpdate: { cron: '@hourly' } }),
      404,
      'not_found',
    );
    await expectError(bob.client.schedules.pauseSchedule({ id: s.id, schedulePause: {} }), 404, 'not_found');
    await expectError(bob.client.schedules.resumeSchedule({ id: s.id }), 404, 'not_found');
    await expectError(bob.client.schedules.listScheduleFires({ id: s.id }), 404, 'not_found');
    await expectError(
      bob.client.schedules.backfillSchedule({
        id: s.id,
        backfillRequest: { from: '2026-05-01T00:00:00Z', to: '2026-05-02T00:00:00Z' },
      }),
      404,
      'not_found',
    );
    await expectError(bob.client.schedules.deleteSchedule({ id: s.id }), 404, 'not_found');
    await expectError(
      bob.client.schedules.createSchedule({ scheduleCreate: { flow_id: quick, cron: '@hourly' } }),
      404,
      'not_found',
    );
    await alice.client.schedules.deleteSchedule({ id: s.id });
    await expectError(alice.client.schedules.getSchedule({ id: s.id }), 404, 'not_found');
  });

  it('a start the flow refuses is still accounted for: skipped, start_failed, with the error', async () => {
    const strict = await makeFlow(
      alice,
      'inputs:\n  type: object\n  required: [n]\n  properties: {n: {type: integer}}\nnodes:\n  start:\n    type: log\n    params: {message: x}\n',
    );
    const t0 = '2026-09-20T00:00:00.000Z';
    now = at(t0);
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: strict, interval_seconds: 60 },
    });
    await tickAt(minute(t0, 1));
    const [fire] = await fires(s.id);
    expect(fire).to.include({ status: 'skipped', reason: 'start_failed', execution_id: null });
    expect(fire.error).to.be.a('string').and.match(/input/i);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('jitter delays each time by a fixed amount per time, so the preview is exact', async () => {
    now = at('2026-05-04T10:00:00Z');
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: quick,
        cron: '0 * * * *',
        jitter_seconds: 600,
      },
    });
    const firstFire = at(s.next_fire_times[0]);
    expect(firstFire.getTime() - at('2026-05-04T11:00:00Z').getTime()).to.be.within(0, 600_000);
    expect((await alice.client.schedules.getSchedule({ id: s.id })).data.next_fire_times).to.deep.equal(
      s.next_fire_times,
    );
    expect(await tickAt(iso(new Date(firstFire.getTime() - 1)))).to.deep.equal([]);
    await tickAt(iso(firstFire));
    expect(summary(await fires(s.id))).to.deep.equal(['2026-05-04T11:00:00.000Z fired']);
    await alice.client.schedules.deleteSchedule({ id: s.id });
  });

  it('two firing loops ticking together fire each time exactly once', async () => {
    const other = new Scheduler(
      server.db,
      server.services.scheduleFiring,
      server.services.clock,
      createLogger('silent'),
    );
    const t0 = '2026-11-01T00:00:00.000Z';
    now = at(t0);
    const made = [];
    for (let i = 0; i < 5; i++)
      made.push(
        (
          await alice.client.schedules.createSchedule({
            scheduleCreate: {
              flow_id: quick,
              interval_seconds: 60,
              overlap_policy: 'allow',
            },
          })
        ).data,
      );
    for (let n = 1; n <= 6; n++) {
      now = at(minute(t0, n));
      await Promise.all([scheduler.tick(), other.tick(), scheduler.tick(), other.tick()]);
    }
    for (const s of made) {
      const ledger = await fires(s.id);
      expect(summary(ledger)).to.deep.equal([1, 2, 3, 4, 5, 6].map((n) => `${minute(t0, n)} fired`));
      const { data } = await alice.client.executions.listExecutions({ limit: 100, triggerId: s.id });
      expect(data.total).to.equal(6);
      await alice.client.schedules.deleteSchedule({ id: s.id });
    }
  });

  it('a firing that fails before its commit leaves no execution and no ledger row; the time fires on the next tick', async () => {
    const t0 = '2026-11-10T00:00:00.000Z';
    now = at(t0);
    const { data: s } = await alice.client.schedules.createSchedule({
      scheduleCreate: { flow_id: quick, interval_seconds: 60 },
    });
    // Stands for a process dying between "due" and "started": the ledger write fails after the start.
    await server.db.raw(`create function test_refuse_fires() returns trigger language plpgsql as $$
      begin raise exception 'the process died'; end $$`);
    await server.db.raw(
      'create trigger test_refuse_fires after insert on schedule_fires for each row execute function test_refuse_fires()',
    );
    try {
      expect(await tickAt(minute(t0, 1))).to.deep.equal([]);
    } finally {
      await server.db.raw('drop trigger test_refuse_fires on schedule_fires');
      await server.db.raw('drop function test_refuse_fires()');
    }
    expect(await fires(s.id)).to.deep.equal([]);
    const none = await alice.client.executions.listExecutions({ limit: 10, triggerId: s.id });
    expect(none.data.total).to.equal(0);
    await tickAt(minute(t0, 1.5));
    expect(summary(await fires(s.id))).to.deep.equal([`${minute(t0, 1)} fired`]);
    const one = await alice.client.executions.listExecutions({ limit: 10, triggerId: s.id });
    expect(one.data.total).to.equal(1);
  });

  it('counts the ledger in /metrics by status and reason', async () => {
    const t0 = '2026-11-05T00:00:00.000Z';
    const s = await waitingSchedule(t0, 'skip');
    for (const n of [1, 2]) await tickAt(minute(t0, n));
    const { data } = await alice.client.meta.getMetrics();
    expect(String(data)).to.match(/flowrunner_schedule_times\{status="fired",reason=""\} [1-9]/);
    expect(String(data)).to.match(/flowrunner_schedule_times\{status="skipped",reason="overlap"\} [1-9]/);
    await cancel((await fires(s.id))[0].execution_id!);
  });
});
