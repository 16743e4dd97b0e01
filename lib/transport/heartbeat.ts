import type { Connection } from '../connection/connection';
import type { LocalConnections } from '../connection/local-connections';
import { encodeFrame, HeartbeatCommand } from '../protocol';

const PING_FRAME = encodeFrame({ command: HeartbeatCommand.PING, payload: {} });
const LATENCY_REQUEST_FRAME = encodeFrame({ command: HeartbeatCommand.LATENCY_REQUEST, payload: {} });

export interface HeartbeatOptions {
  pingInterval: number;
  latencyInterval: number;
  maxMissedPongs: number;
}

/**
 * The application-level heartbeat of docs/protocol.md, with one timer per node (not per connection):
 * every `pingInterval` a `ping`; a connection that leaves more than `maxMissedPongs` consecutive
 * pings unanswered is terminated at once (a dead peer would not complete a closing handshake)
 * and its cleanup runs as for any close. Every
 * `latencyInterval` the last round trip is pushed as `latency`, then a `latency:request`.
 */
export class Heartbeat {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly connections: LocalConnections,
    private readonly options: HeartbeatOptions,
  ) {}

  start(): void {
    this.stop();
    this.timers = [
      setInterval(() => this.pingAll(), this.options.pingInterval),
      setInterval(() => this.measureAll(), this.options.latencyInterval),
    ];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private pingAll(): void {
    for (const connection of this.connections.values()) {
      if (connection.awaitingPong) {
        connection.missedPongs++;
        if (connection.missedPongs > this.options.maxMissedPongs) {
          connection.terminate();
          continue;
        }
      }
      connection.awaitingPong = true;
      connection.sendRaw(PING_FRAME);
    }
  }

  private measureAll(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      if (connection.latencyRequestedAt && now - connection.latencyRequestedAt < this.options.pingInterval) continue;
      connection.sendRaw(encodeFrame({ command: HeartbeatCommand.LATENCY, payload: connection.latency }));
      connection.latencyRequestedAt = now;
      connection.sendRaw(LATENCY_REQUEST_FRAME);
    }
  }

  /** Handles `pong` and `latency:response`; returns false for any other command. */
  handle(connection: Connection, command: string): boolean {
    if (command === HeartbeatCommand.PONG) {
      connection.awaitingPong = false;
      connection.missedPongs = 0;
      return true;
    }
    if (command === HeartbeatCommand.LATENCY_RESPONSE) {
      if (connection.latencyRequestedAt) {
        connection.latency = Date.now() - connection.latencyRequestedAt;
        connection.latencyRequestedAt = 0;
      }
      return true;
    }
    return false;
  }
}
