import type { Connection } from '../connection/connection';
import { encodeFrame, HeartbeatCommand } from '../protocol';

const PING_FRAME = encodeFrame({ command: HeartbeatCommand.PING, payload: {} });
const LATENCY_REQUEST_FRAME = encodeFrame({ command: HeartbeatCommand.LATENCY_REQUEST, payload: {} });

/**
 * Connections are spread over this many slices, and each timer tick serves one slice: a round of
 * pings (or latency requests) is spread over its whole interval instead of writing to every
 * socket of the node in one synchronous burst (a soak measured bursts of 270–385 ms at 2,500
 * connections per node, which every command waiting behind them paid as latency).
 */
const SLICES = 16;

export interface HeartbeatOptions {
  pingInterval: number;
  latencyInterval: number;
  maxMissedPongs: number;
}

/**
 * What the heartbeat knows of one socket. It lives on the transport's per-socket state, so the
 * heartbeat keeps no map of its own: a slice is an array of these, and `slot` is the index there.
 */
export interface Beat {
  readonly connection: Connection;
  /** Index of its slice, and its place in it (-1 while untracked). */
  slice: number;
  slot: number;
  awaitingPong: boolean;
  missedPongs: number;
  /** When the pending `latency:request` was sent; 0 if none. */
  latencyRequestedAt: number;
}

/**
 * The application-level heartbeat of docs/protocol.md. Every `pingInterval` each connection gets
 * a `ping`; one that leaves more than `maxMissedPongs` consecutive pings unanswered is terminated
 * (a dead peer would not complete a closing handshake) and its cleanup runs as for any close.
 * Every `latencyInterval` it gets the last round trip as `latency`, then a `latency:request`.
 * Two timers per node, each serving one slice of the connections per tick.
 */
export class Heartbeat {
  private readonly slices: Beat[][] = Array.from({ length: SLICES }, () => []);
  private clocks: SliceClock[] = [];
  private nextSlice = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    this.stop();
    this.clocks = [
      new SliceClock(this.options.pingInterval, (slice) => this.ping(this.slices[slice])),
      new SliceClock(this.options.latencyInterval, (slice) => this.measure(this.slices[slice])),
    ];
  }

  stop(): void {
    for (const clock of this.clocks) clock.stop();
    this.clocks = [];
  }

  /** Starts beating for a connection (in the next slice, so slices stay even). */
  track(beat: Beat): void {
    if (beat.slot >= 0) return;
    const slice = this.slices[(beat.slice = this.nextSlice++ % SLICES)];
    beat.slot = slice.push(beat) - 1;
    beat.awaitingPong = false;
    beat.missedPongs = 0;
    beat.latencyRequestedAt = 0;
  }

  untrack(beat: Beat): void {
    if (beat.slot < 0) return;
    // Swap with the last of the slice: O(1), and the slice stays dense.
    const slice = this.slices[beat.slice];
    const last = slice.pop()!;
    if (last !== beat) {
      slice[beat.slot] = last;
      last.slot = beat.slot;
    }
    beat.slot = -1;
  }

  /** Handles `pong` and `latency:response`; returns false for any other command. */
  handle(beat: Beat, command: string): boolean {
    if (command === HeartbeatCommand.PONG) {
      beat.awaitingPong = false;
      beat.missedPongs = 0;
      return true;
    }
    if (command === HeartbeatCommand.LATENCY_RESPONSE) {
      if (beat.latencyRequestedAt) {
        beat.connection.recordLatency(Date.now() - beat.latencyRequestedAt);
        beat.latencyRequestedAt = 0;
      }
      return true;
    }
    return false;
  }

  private ping(slice: readonly Beat[]): void {
    // A copy: a write can drop a slow consumer, and a terminated socket may leave the slice.
    for (const beat of slice.slice()) {
      if (beat.awaitingPong && ++beat.missedPongs > this.options.maxMissedPongs) {
        beat.connection.terminate();
        continue;
      }
      beat.awaitingPong = true;
      beat.connection.sendRaw(PING_FRAME);
    }
  }

  private measure(slice: readonly Beat[]): void {
    const now = Date.now();
    for (const beat of slice.slice()) {
      // A request still unanswered after a ping interval is given up, and asked again.
      if (beat.latencyRequestedAt && now - beat.latencyRequestedAt < this.options.pingInterval) continue;
      beat.latencyRequestedAt = now;
      // The last reading and the next request, in one write: one system call per connection and round.
      beat.connection.sendRawAll([encodeFrame({ command: HeartbeatCommand.LATENCY, payload: beat.connection.latency }), LATENCY_REQUEST_FRAME]);
    }
  }
}

/**
 * Serves slice 0, 1, 2... in turn, SLICES ticks per `interval`, on a fixed schedule: tick n is
 * due at start + n × interval / SLICES whenever the previous one ran. A plain setInterval restarts
 * its period when its callback runs, so each late tick would push the next ones later and a
 * connection's ping gap would grow by 16 event-loop delays a round; clients (ours and
 * @prsm/realtime's) that expect a ping every `pingTimeout` ms drop the socket when it does.
 */
class SliceClock {
  private readonly tickMs: number;
  private startedAt = Date.now();
  private ticks = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    interval: number,
    private readonly serve: (slice: number) => void,
  ) {
    this.tickMs = Math.max(1, interval / SLICES);
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const now = Date.now();
    // After a stall of more than a whole round, start the schedule again rather than catch up in a burst.
    if (this.startedAt + (this.ticks + 1) * this.tickMs < now - this.tickMs * SLICES) {
      this.startedAt = now - this.ticks * this.tickMs;
    }
    const due = this.startedAt + (this.ticks + 1) * this.tickMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - now));
    this.timer.unref();
  }

  private tick(): void {
    this.serve(this.ticks++ % SLICES);
    if (this.timer) this.schedule();
  }
}
