// The pause between a worker's runs that a poke or stop() can cut short (the alert relay, the
// webhook deliverer, the aggregate publisher).
export class Nap {
  private wake: (() => void) | null = null;

  /** Sleeps `ms`, or until interrupt(). */
  async take(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  /** Ends the current sleep at once; does nothing while none is being taken. */
  interrupt(): void {
    this.wake?.();
  }
}
