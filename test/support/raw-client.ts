import { WebSocket } from 'ws';
import type { Frame } from '../../lib/protocol';

/**
 * A bare `ws` client that speaks the wire protocol by hand: it sends exactly the bytes a test
 * gives it and records every frame it receives, so tests can see the wire.
 */
export class RawClient {
  readonly frames: Frame[] = [];
  connectionId?: string;
  private nextId = 1;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void; timer: NodeJS.Timeout }> = [];

  private constructor(
    readonly socket: WebSocket,
    private readonly prefix: string,
  ) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      if (frame.command === `${prefix}/assign-id` && typeof frame.payload === 'string') this.connectionId = frame.payload;
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    socket.once('close', () => this.dropWaiters());
  }

  /** Opens a socket and waits for `<prefix>/assign-id`. */
  static async connect(url: string, options: { prefix?: string; headers?: Record<string, string>; waitForId?: boolean } = {}): Promise<RawClient> {
    const socket = new WebSocket(url, { headers: options.headers });
    const client = new RawClient(socket, options.prefix ?? 'mesh');
    const assigned = client.waitFor((f) => f.command === `${client.prefix}/assign-id`);
    assigned.catch(() => undefined);
    socket.once('error', () => client.dropWaiters());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
        socket.terminate();
      });
    });
    if (options.waitForId !== false) await assigned;
    return client;
  }

  /** Resolves with the first frame received since index `from` (default: ever) that matches. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const seen = this.frames.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        timer,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Stops waiting (the socket is gone): no timer outlives the client. */
  private dropWaiters(): void {
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters = [];
  }

  sendText(text: string | Buffer, binary = false): void {
    this.socket.send(text, { binary });
  }

  /** Sends a request and resolves with the reply frame (matched by id). */
  async request(command: string, payload: unknown = {}, id: number | string = this.nextId++): Promise<Frame> {
    const reply = this.waitFor((f) => f.id === id, 5000, this.frames.length);
    this.sendText(JSON.stringify({ id, command, payload }));
    return reply;
  }

  /** The payload of the reply to a request. */
  async command(command: string, payload: unknown = {}): Promise<any> {
    return (await this.request(command, payload)).payload;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
