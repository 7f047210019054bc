/** What time it is, for the schedules: the system's clock, unless a test points it at another day. */
export interface Clock {
  now(): Date;
}

export class SwitchableClock implements Clock {
  private source: () => Date = () => new Date();

  now(): Date {
    return this.source();
  }

  /** Reads the time from `source` from now on (tests: a DST change day, ticks without sleeping). */
  use(source: () => Date): void {
    this.source = source;
  }
}
