import { Injectable } from '@nestjs/common';
import type { Connection } from './connection';

export type ConnectionListener = (connection: Connection) => void | Promise<void>;
/** `authentication`: what `authenticateConnection` accepted the connection with (undefined without it). */
export type ConnectListener = (connection: Connection, authentication: Record<string, unknown> | undefined) => void | Promise<void>;

/**
 * Hooks the transport runs for every connection: after it is registered (before the client gets
 * its id) and after its socket closed (before its shared state is removed).
 */
@Injectable()
export class ConnectionEvents {
  private readonly connected: ConnectListener[] = [];
  private readonly disconnected: ConnectionListener[] = [];

  onConnect(listener: ConnectListener): void {
    this.connected.push(listener);
  }

  onDisconnect(listener: ConnectionListener): void {
    this.disconnected.push(listener);
  }

  async emitConnect(connection: Connection, authentication?: Record<string, unknown>): Promise<void> {
    for (const listener of this.connected) await listener(connection, authentication);
  }

  async emitDisconnect(connection: Connection): Promise<void> {
    for (const listener of this.disconnected) await listener(connection);
  }
}
