import { expect } from 'chai';
import {
  checkClock,
  fireTimeOf,
  jitterMs,
  nextFireTimes,
  nextSlot,
  type ScheduleClockFields,
} from '../../src/services/schedule-times';

const base: ScheduleClockFields = {
  id: 'sch-test',
  cron: null,
  interval_seconds: null,
  starts_at: null,
  timezone: 'UTC',
  jitter_seconds: 0,
  created_at: new Date('2026-01-01T00:00:00Z'),
};
const cron = (expression: string, timezone = 'UTC'): ScheduleClockFields => ({ ...base, cron: expression, timezone });
const times = (s: ScheduleClockFields, from: string, n: number) => {
  const out: string[] = [];
  let t: Date | null = new Date(from);
  while (out.length < n && (t = nextSlot(s, t))) out.push(t.toISOString());
  return out;
};

describe('schedule times (croner in a time zone, intervals, jitter)', () => {
  it('America/New_York spring forward: 02:30 does not exist on 8 March 2026 and fires once at 03:00', () => {
    expect(times(cron('30 2 * * *', 'America/New_York'), '2026-03-07T12:00:00Z', 3)).to.deep.equal([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('America/New_York fall back: 01:30 happens twice on 1 November 2026 and fires once, at the first', () => {
    expect(times(cron('30 1 * * *', 'America/New_York'), '2026-10-31T12:00:00Z', 3)).to.deep.equal([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-02T06:30:00.000Z', // 01:30 EST
      '2026-11-03T06:30:00.000Z',
    ]);
  });

  it('an every-15-minutes cron keeps real time through both 01:xx hours of the fall back', () => {
    const day = times(cron('*/15 * * * *', 'America/New_York'), '2026-11-01T04:59:00Z', 12);
    expect(day[0]).to.equal('2026-11-01T05:00:00.000Z');
    expect(day[11]).to.equal('2026-11-01T07:45:00.000Z');
    for (let i = 1; i < day.length; i++) expect(Date.parse(day[i]) - Date.parse(day[i - 1])).to.equal(15 * 60_000);
  });

  it('intervals count from starts_at, else from the creation time', () => {
    const s = { ...base, interval_seconds: 90, starts_at: new Date('2026-01-01T00:01:00Z') };
    expect(times(s, '2025-12-31T00:00:00Z', 3)).to.deep.equal([
      '2026-01-01T00:01:00.000Z',
      '2026-01-01T00:02:30.000Z',
      '2026-01-01T00:04:00.000Z',
    ]);
    expect(times({ ...base, interval_seconds: 3600 }, '2026-01-01T05:30:00Z', 1)).to.deep.equal([
      '2026-01-01T06:00:00.000Z',
    ]);
  });

  it('jitter is deterministic, within its bound, and included in the preview', () => {
    const s = { ...cron('0 * * * *'), jitter_seconds: 120 };
    const slot = new Date('2026-01-01T01:00:00Z');
    expect(jitterMs(s, slot)).to.equal(jitterMs(s, slot)).and.be.within(0, 120_000);
    expect(jitterMs({ ...s, id: 'sch-other' }, slot)).to.not.equal(jitterMs(s, slot));
    const preview = nextFireTimes(s, slot, new Date('2026-01-01T00:30:00Z'), 3);
    expect(preview[0].getTime()).to.equal(fireTimeOf(s, slot).getTime());
  });

  it('checks the clock: one of cron and interval, a real zone, 5 or 6 fields or a known name', () => {
    expect(() => checkClock({ cron: '0 2 * * *', interval_seconds: null, timezone: 'Europe/Berlin' })).to.not.throw();
    expect(() => checkClock({ cron: '@hourly', interval_seconds: null, timezone: 'UTC' })).to.not.throw();
    for (const bad of [
      { cron: '0 2 * * *', interval_seconds: 5, timezone: 'UTC' },
      { cron: null, interval_seconds: null, timezone: 'UTC' },
      { cron: '0 2 * *', interval_seconds: null, timezone: 'UTC' },
      { cron: '0 2 * * *', interval_seconds: null, timezone: 'Nowhere/Land' },
      { cron: '@sometimes', interval_seconds: null, timezone: 'UTC' },
    ])
      expect(() => checkClock(bad), JSON.stringify(bad)).to.throw(/Invalid/);
  });
});
