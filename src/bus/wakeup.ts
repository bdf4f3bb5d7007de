/**
 * A sleep that another part of its owner can cut short: the packet consumers wait for a batch to
 * fill or its delay to pass, and a new message or close() wakes them at once.
 */
export class Wakeup {
  #wake: (() => void) | undefined;

  /** Resolves after `ms`, or at the next wake(), whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** End the current sleep, if any. */
  wake(): void {
    this.#wake?.();
  }
}
