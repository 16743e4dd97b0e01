/**
 * The seam between the client and a socket. Two implementations: `WebSocketTransport` (the
 * socket on the calling thread) and `WorkerTransport` (the socket in a Node worker thread, which
 * adds `sendSync`). The client's logic (commands, reconnect, heartbeat, subscriptions) sits above
 * this seam and works the same on both.
 */

/** Why a socket closed. Plain data, so it can cross a worker boundary. */
export interface TransportCloseInfo {
  code: number;
  reason: string;
  /** Set when the socket never opened: what went wrong, as far as the runtime tells. */
  failure?: { message?: string; status?: number };
}

/** Callbacks of one socket. None is called after the socket reported `onClose`. */
export interface TransportHandlers {
  onOpen(): void;
  onMessage(data: string): void;
  onClose(info: TransportCloseInfo): void;
}

/** The outcome of a blocking request (`WorkerTransport` only). */
export type SyncReply = { kind: 'reply'; data: string } | { kind: 'lost' } | { kind: 'timeout' };

/** One socket (one connection attempt). */
export interface TransportConnection {
  /** Sends a text frame; dropped silently when the socket is not open. */
  send(data: string): void;
  /** Starts a close handshake; resolves once the socket is closed. */
  close(code?: number, reason?: string): Promise<void>;
  /** Drops the socket at once, without waiting for the peer (used when the peer went silent). */
  terminate(): void;
  /**
   * Sends `data` and blocks the calling thread until the frame with id `id` arrives, the socket
   * closes, or `timeoutMs` passes. Only transports that can block have it.
   */
  sendSync?(data: string, id: number, timeoutMs: number): SyncReply;
}

export interface Transport {
  connect(url: string, handlers: TransportHandlers): TransportConnection;
  /** Frees what the transport holds beyond its sockets (the worker thread). */
  dispose(): Promise<void>;
}

/** Socket options shared by both transports. */
export interface SocketOptions {
  protocols?: string | string[];
  headers?: Record<string, string>;
}
