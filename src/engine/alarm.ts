/** A sleep that a notification can cut short: how the worker and the deliverer wait for work. */
export class Alarm {
  private ring: (() => void) | undefined;

  /** Resolves after `ms`, or at once when `wake` is called meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.ring = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.ring = done;
    });
  }

  wake(): void {
    this.ring?.();
  }
}
