import { Injectable } from '@nestjs/common';
import type { Connection } from './connection';

export type ConnectionListener = (connection: Connection) => void | Promise<void>;
/** `authentication`: what `authenticateConnection` accepted the connection with (undefined without it). */
export type ConnectListener = (connection: Connection, authentication: Record<string, unknown> | undefined) => void | Promise<void>;

/**
 * Hooks the transport runs for every connection: `register` at the same time as the connection
 * is written to the shared state (writes of their own, so a connect costs one round trip to
 * Redis, not one per writer), `connect` once both are done (before the client gets its id), and
 * `disconnect` after its socket closed, or after its registration failed (before its shared
 * state is removed), and `metadataChange` after its metadata was written. Listeners of each kind run one after the other, in the order added.
 */
@Injectable()
export class ConnectionEvents {
  private readonly registering: ConnectListener[] = [];
  private readonly connected: ConnectionListener[] = [];
  private readonly disconnected: ConnectionListener[] = [];
  private readonly metadataChanged: Array<(connectionId: string) => void | Promise<void>> = [];

  onRegister(listener: ConnectListener): void {
    this.registering.push(listener);
  }

  onConnect(listener: ConnectionListener): void {
    this.connected.push(listener);
  }

  onDisconnect(listener: ConnectionListener): void {
    this.disconnected.push(listener);
  }

  /** A connection's metadata was written (on any node's behalf: the id may be of a connection elsewhere). */
  onMetadataChange(listener: (connectionId: string) => void | Promise<void>): void {
    this.metadataChanged.push(listener);
  }

  async emitMetadataChange(connectionId: string): Promise<void> {
    for (const listener of this.metadataChanged) await listener(connectionId);
  }

  async emitRegister(connection: Connection, authentication?: Record<string, unknown>): Promise<void> {
    for (const listener of this.registering) await listener(connection, authentication);
  }

  async emitConnect(connection: Connection): Promise<void> {
    for (const listener of this.connected) await listener(connection);
  }

  async emitDisconnect(connection: Connection): Promise<void> {
    for (const listener of this.disconnected) await listener(connection);
  }
}
