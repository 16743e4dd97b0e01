/**
 * Counts heartbeat windows of `pingTimeout` ms with no `ping` from the server, and calls
 * `onSilent` once more than `maxMissedPings` windows in a row were silent.
 */
export class PingWatchdog {
  private timer?: ReturnType<typeof setInterval>;
  private missed = 0;

  constructor(
    private readonly pingTimeout: number,
    private readonly maxMissedPings: number,
    private readonly onSilent: () => void,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => {
      this.missed += 1;
      if (this.missed > this.maxMissedPings) {
        this.stop();
        this.onSilent();
      }
    }, this.pingTimeout);
  }

  /** A ping arrived. */
  reset(): void {
    this.missed = 0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.missed = 0;
  }
}
