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

/** What the heartbeat knows of one socket. */
interface SocketBeat {
  slice: number;
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
  private readonly beats = new Map<Connection, SocketBeat>();
  private readonly slices: Array<Set<Connection>> = Array.from({ length: SLICES }, () => new Set());
  private timers: NodeJS.Timeout[] = [];
  private nextSlice = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    this.stop();
    this.timers = [this.everySlice(this.options.pingInterval, (slice) => this.ping(slice)), this.everySlice(this.options.latencyInterval, (slice) => this.measure(slice))];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Starts beating for a connection (in the next slice, so slices stay even). */
  track(connection: Connection): void {
    const slice = this.nextSlice++ % SLICES;
    this.beats.set(connection, { slice, awaitingPong: false, missedPongs: 0, latencyRequestedAt: 0 });
    this.slices[slice].add(connection);
  }

  untrack(connection: Connection): void {
    const beat = this.beats.get(connection);
    if (!beat) return;
    this.slices[beat.slice].delete(connection);
    this.beats.delete(connection);
  }

  /** Handles `pong` and `latency:response`; returns false for any other command. */
  handle(connection: Connection, command: string): boolean {
    if (command === HeartbeatCommand.PONG) {
      const beat = this.beats.get(connection);
      if (beat) {
        beat.awaitingPong = false;
        beat.missedPongs = 0;
      }
      return true;
    }
    if (command === HeartbeatCommand.LATENCY_RESPONSE) {
      const beat = this.beats.get(connection);
      if (beat?.latencyRequestedAt) {
        connection.recordLatency(Date.now() - beat.latencyRequestedAt);
        beat.latencyRequestedAt = 0;
      }
      return true;
    }
    return false;
  }

  /** A timer that serves slice 0, 1, 2... in turn, so that each slice comes round once per `interval`. */
  private everySlice(interval: number, serve: (slice: ReadonlySet<Connection>) => void): NodeJS.Timeout {
    let next = 0;
    const timer = setInterval(() => serve(this.slices[next++ % SLICES]), Math.max(1, interval / SLICES));
    timer.unref();
    return timer;
  }

  private ping(slice: ReadonlySet<Connection>): void {
    for (const connection of [...slice]) {
      const beat = this.beats.get(connection)!;
      if (beat.awaitingPong && ++beat.missedPongs > this.options.maxMissedPongs) {
        connection.terminate();
        continue;
      }
      beat.awaitingPong = true;
      connection.sendRaw(PING_FRAME);
    }
  }

  private measure(slice: ReadonlySet<Connection>): void {
    const now = Date.now();
    for (const connection of [...slice]) {
      const beat = this.beats.get(connection)!;
      // A request still unanswered after a ping interval is given up, and asked again.
      if (beat.latencyRequestedAt && now - beat.latencyRequestedAt < this.options.pingInterval) continue;
      connection.sendRaw(encodeFrame({ command: HeartbeatCommand.LATENCY, payload: connection.latency }));
      beat.latencyRequestedAt = now;
      connection.sendRaw(LATENCY_REQUEST_FRAME);
    }
  }
}
