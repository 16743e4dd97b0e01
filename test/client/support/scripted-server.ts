import type { IncomingMessage } from 'http';
import type { AddressInfo } from 'net';
import { WebSocket, WebSocketServer, type VerifyClientCallbackAsync } from 'ws';
import type { Frame } from '../../../lib/protocol';

/** What a command handler returns: a reply payload, or NO_REPLY to stay silent. */
export const NO_REPLY = Symbol('no reply');
export type ScriptedHandler = (payload: any, frame: Frame, socket: WebSocket) => unknown | Promise<unknown>;

export interface ReceivedFrame {
  /** 1 for the first connection the server accepted, 2 for the next, ... */
  connection: number;
  frame: Frame;
}

export interface ScriptedServerOptions {
  prefix?: string;
  /** Send `<prefix>/assign-id` on connect. Default true. */
  assignId?: boolean;
  verifyClient?: VerifyClientCallbackAsync<IncomingMessage>;
  /** A fixed port (to come back on the same port after `stop()`). Default: a free one. */
  port?: number;
}

/**
 * A tiny Mesh server for client tests: it speaks the wire protocol with scripted answers and
 * records every frame it receives, so tests can check what the client sent.
 */
export class ScriptedServer {
  readonly received: ReceivedFrame[] = [];
  readonly sockets: WebSocket[] = [];
  readonly handlers = new Map<string, ScriptedHandler>();
  private connections = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly prefix: string,
    private readonly assignId: boolean,
  ) {
    const p = `${prefix}/`;
    this.handlers.set('echo', (payload) => payload);
    this.handlers.set('fail', () => ({ error: 'boom', code: 'EBOOM', name: 'Error' }));
    this.handlers.set('hang', () => NO_REPLY);
    this.handlers.set('pong', () => NO_REPLY);
    this.handlers.set('latency:response', () => NO_REPLY);
    this.handlers.set(`${p}invoke-result`, () => NO_REPLY);
    this.handlers.set(`${p}subscribe-channel`, () => ({ success: true, history: ['m2', 'm1'] }));
    this.handlers.set(`${p}unsubscribe-channel`, () => true);
    this.handlers.set(`${p}get-channel-history`, () => ({ success: true, history: ['m2', 'm1'] }));
    this.handlers.set(`${p}join-room`, () => ({ success: true, present: [] }));
    this.handlers.set(`${p}leave-room`, () => ({ success: true }));
    this.handlers.set(`${p}get-room-metadata`, (payload) => ({ metadata: { room: payload.roomName } }));
    this.handlers.set(`${p}get-my-connection-metadata`, () => ({ metadata: { me: true } }));
    this.handlers.set(`${p}get-connection-metadata`, (payload) => ({ metadata: { of: payload.connectionId } }));
    this.handlers.set(`${p}set-my-connection-metadata`, () => ({ success: true }));
    wss.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ port: options.port ?? 0, host: '127.0.0.1', verifyClient: options.verifyClient });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new ScriptedServer(wss, options.prefix ?? 'mesh', options.assignId ?? true);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/mesh`;
  }

  get connectionCount(): number {
    return this.connections;
  }

  /** The latest socket. */
  get socket(): WebSocket {
    return this.sockets[this.sockets.length - 1];
  }

  /** Frames received on one connection. */
  framesOf(connection: number): Frame[] {
    return this.received.filter((r) => r.connection === connection).map((r) => r.frame);
  }

  send(socket: WebSocket, frame: Frame): void {
    socket.send(JSON.stringify(frame));
  }

  /** Pushes `{command, payload}` to every open socket. */
  push(command: string, payload?: unknown): void {
    for (const socket of this.sockets) if (socket.readyState === WebSocket.OPEN) this.send(socket, { command, payload });
  }

  /** Kills every socket without a close handshake (a crash or a network cut). */
  dropAll(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  /** Resolves when a received frame matches (or one already has). */
  async waitForFrame(match: (r: ReceivedFrame) => boolean, timeoutMs = 5000): Promise<ReceivedFrame> {
    await this.until(() => this.received.some(match), timeoutMs, 'frame');
    return this.received.find(match)!;
  }

  /** Resolves when the server has accepted `count` connections in total. */
  waitForConnections(count: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.connections >= count, timeoutMs, `connection #${count}`);
  }

  /** Stops listening and kills every socket. */
  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    const connection = ++this.connections;
    this.sockets.push(socket);
    socket.on('message', (data) => void this.onFrame(connection, socket, JSON.parse(data.toString()) as Frame));
    if (this.assignId) this.send(socket, { command: `${this.prefix}/assign-id`, payload: `conn-${connection}` });
    this.notify();
  }

  private async onFrame(connection: number, socket: WebSocket, frame: Frame): Promise<void> {
    this.received.push({ connection, frame });
    this.notify();
    const handler = this.handlers.get(frame.command);
    const payload = handler
      ? await handler(frame.payload, frame, socket)
      : { error: `Command "${frame.command}" not found`, code: 'ENOTFOUND', name: 'CommandError' };
    if (payload !== NO_REPLY && frame.id !== undefined && socket.readyState === WebSocket.OPEN) {
      this.send(socket, { id: frame.id, command: frame.command, payload });
    }
  }

  private until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`Timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Resolves with the next event of `type` a client emits. */
export function nextEvent<T = any>(client: { once(type: string, fn: (e: { detail: T }) => void): unknown }, type: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out waiting for event "${type}"`)), timeoutMs);
    client.once(type, (e) => {
      clearTimeout(timer);
      resolve(e.detail);
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
