import { connect, createServer, type Server, type Socket } from 'node:net';

/** Which bytes a proxy drops: those from the server to the client, from the client to the server, or none. */
export type BlackHole = 'none' | 'to-client' | 'to-server';

interface Pair {
  client: Socket;
  server: Socket;
}

/**
 * A TCP proxy on a free loopback port, for tests of what a client sees when the network fails:
 * it forwards every connection to the target port (`retarget` changes it for new connections),
 * can drop the bytes of one direction while keeping the connections open (`blackHole`), and
 * can cut every connection at once (`cut`), as a network failure would, and can keep a client
 * away: while `hold()` is on, new connections are accepted but nothing is forwarded until
 * `release()` (a reconnect that cannot get through yet).
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private dropping: BlackHole = 'none';
  private accepted = 0;
  private holding = false;
  private readonly held: Socket[] = [];

  private constructor(
    private readonly server: Server,
    private target: number,
  ) {
    server.on('connection', (client) => {
      if (!this.holding) return this.forward(client);
      client.on('error', () => undefined);
      this.held.push(client);
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** `ws://` URL of the proxy with the given path (and query). */
  url(path = '/mesh'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Connections accepted so far (a reconnect adds one). */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Where new connections go from now on (open ones stay where they are). */
  retarget(port: number): void {
    this.target = port;
  }

  /** Drops the bytes of one direction from now on, on every connection, open and new; `'none'` forwards them again. */
  blackHole(direction: BlackHole): void {
    this.dropping = direction;
  }

  /** Destroys every open connection on both sides (no close frame, no FIN to wait for: a reset). */
  cut(): void {
    for (const pair of [...this.pairs]) this.drop(pair);
  }

  /** New connections wait (accepted, not forwarded) until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Forwards the connections that waited, and new ones again. */
  release(): void {
    this.holding = false;
    for (const client of this.held.splice(0)) if (!client.destroyed) this.forward(client);
  }

  async close(): Promise<void> {
    this.cut();
    for (const client of this.held.splice(0)) client.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket): void {
    this.accepted++;
    const server = connect(this.target, '127.0.0.1');
    const pair: Pair = { client, server };
    this.pairs.add(pair);
    // Data a client sends before the target accepted is queued by the socket until it connects.
    client.on('data', (chunk) => this.dropping !== 'to-server' && server.write(chunk));
    server.on('data', (chunk) => this.dropping !== 'to-client' && client.write(chunk));
    for (const socket of [client, server]) {
      socket.on('error', () => this.drop(pair));
      socket.on('close', () => this.drop(pair));
    }
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.server.resetAndDestroy();
  }
}
