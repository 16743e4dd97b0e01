import { WebSocket } from 'ws';
import { CloseCode, encodeFrame, isValidCloseCode } from '../protocol';
import { writeFrame, writeFrames } from '../transport/frame-writer';
import type { PreparedFrame } from '../transport/prepared-frame';
import type { UpgradeRequest } from './upgrade-request';

/**
 * One client connection on this node. Commands receive it (`@MeshConnection()`), and server code
 * may keep it to push events. Its shared state (metadata, rooms) lives in the store; read it
 * through `ConnectionManager` or `MeshServer`.
 */
export class Connection {
  readonly connectedAt = Date.now();
  private closed = false;
  private lastLatency = 0;
  private registeredAs?: string;

  constructor(
    /** The connection id sent to the client in `<prefix>/assign-id`. */
    readonly id: string,
    /** The underlying `ws` socket. */
    readonly socket: WebSocket,
    /**
     * The HTTP upgrade request as a connection keeps it: method, URL with query string, headers
     * (without the handshake's own) and the socket (remote address); see {@link UpgradeRequest}.
     * `allowedOrigins` and `authenticateConnection` get the whole `IncomingMessage`.
     */
    readonly request: UpgradeRequest,
    /** Id of the node that owns the socket (this one). */
    readonly nodeId: string,
    private readonly maxBufferedAmount: number,
  ) {}

  /** Last measured round trip in ms (0 until the first `latency:response`). */
  get latency(): number {
    return this.lastLatency;
  }

  /** @internal set by the heartbeat */
  recordLatency(ms: number): void {
    this.lastLatency = ms;
  }

  /** The id this connection is registered under in the client registry (see `resolveClientId`); set once it registered. */
  get clientId(): string | undefined {
    return this.registeredAs;
  }

  /** @internal set by the client registry */
  assignClientId(clientId: string): void {
    this.registeredAs = clientId;
  }

  /** True until the socket starts closing. */
  get isOpen(): boolean {
    return !this.closed && this.socket.readyState === WebSocket.OPEN;
  }

  /** Pushes an event to this client: `{ command: event, payload }`. Returns false if it was not sent. */
  send(event: string, payload?: unknown): boolean {
    return this.sendRaw(encodeFrame(payload === undefined ? { command: event } : { command: event, payload }));
  }

  /**
   * Sends an already encoded frame: a string, or a frame prepared once for every recipient of a broadcast.
   * A write that leaves more than `maxBufferedAmount` bytes queued drops the connection as a slow
   * consumer: at once, since a close frame would wait behind the backlog it is meant to end.
   * @internal
   */
  sendRaw(frame: string | PreparedFrame): boolean {
    if (!this.isOpen) return false;
    writeFrame(this.socket, frame);
    // Counted after the write, so that no single frame can push the backlog past the limit unseen.
    if (this.socket.bufferedAmount > this.maxBufferedAmount) this.terminate();
    return true;
  }

  /** Sends encoded frames together, in one write (see `writeFrames`). @internal */
  sendRawAll(frames: readonly string[]): boolean {
    if (!this.isOpen) return false;
    writeFrames(this.socket, frames);
    if (this.socket.bufferedAmount > this.maxBufferedAmount) this.terminate();
    return true;
  }

  /**
   * Closes the connection; its shared state is cleaned up by the node. `code` must be one a server
   * may send (1000–1003, 1007–1014, 3000–4999) and `reason` at most 123 bytes, else a RangeError
   * is thrown and the connection stays open.
   */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (!isValidCloseCode(code)) throw new RangeError(`Invalid WebSocket close code ${String(code)} (use 1000-1003, 1007-1014 or 3000-4999)`);
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > 123) throw new RangeError('A close reason must be a string of at most 123 bytes');
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, reason);
  }

  /** @internal marks the socket as gone (after a 'close' event). */
  markClosed(): void {
    this.closed = true;
  }

  /** Drops the socket without a closing handshake. */
  terminate(): void {
    this.closed = true;
    this.socket.terminate();
  }
}
