import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy between a client and a node, for fault tests: it forwards to a target port that can
 * be switched (the next connection lands on another node), cuts every connection at once (a
 * network drop: both sides see a reset, no close handshake), holds new connections while
 * `hold()` is on (the client stays away until `release()`), and can black-hole what the server
 * sends back (the request reaches the node, the reply never reaches the client).
 */
export class FaultProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private held: Socket[] = [];
  private holding = false;
  private blackHoled = false;

  private constructor(
    private readonly server: Server,
    private target: number,
  ) {}

  static async start(target: number): Promise<FaultProxy> {
    let proxy!: FaultProxy;
    const server = createServer((client) => proxy.accept(client));
    proxy = new FaultProxy(server, target);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The URL of a node's endpoint through this proxy. */
  url(path = '/mesh'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Where the next connections go. */
  retarget(port: number): void {
    this.target = port;
  }

  /** Drops every connection at once (RST on both sides). */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** Accepts new connections but forwards nothing until `release()`: the client cannot get back. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const client of this.held.splice(0)) if (!client.destroyed) this.forward(client);
  }

  /** From now on, what the server sends is dropped (requests still reach it). */
  blackHole(on = true): void {
    this.blackHoled = on;
  }

  async close(): Promise<void> {
    this.cut();
    for (const client of this.held.splice(0)) client.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.holding) this.held.push(client);
    else this.forward(client);
  }

  private forward(client: Socket): void {
    const upstream = connect(this.target, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    upstream.on('error', () => client.destroy());
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!this.blackHoled) client.write(chunk);
    });
  }
}
