/**
 * Gives a socket up (`onSilent`) once the server has sent no `ping` for more than
 * `maxMissedPings` whole `pingTimeout` windows in a row, that is for (maxMissedPings + 1) ×
 * pingTimeout ms. It measures the silence since the last ping rather than counting timer windows:
 * a server that pings every `pingTimeout` ms, a few ms late now and then, must never look silent
 * (counted windows drop a client whenever one late ping straddles two window ends).
 */
export class PingWatchdog {
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly pingTimeout: number,
    private readonly maxMissedPings: number,
    private readonly onSilent: () => void,
  ) {}

  /** The socket opened: the silence starts now. */
  start(): void {
    this.reset();
  }

  /** A ping arrived. */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onSilent();
    }, this.pingTimeout * (this.maxMissedPings + 1));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
