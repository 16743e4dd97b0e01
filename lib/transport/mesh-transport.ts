import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import { ChannelManager } from '../channels/channel-manager';
import { CollectionManager } from '../collections/collection-manager';
import { RecordManager } from '../records/record-manager';
import { ClientInvoker } from '../cluster/client-invoker';
import { CommandDispatcher } from '../commands/command-dispatcher';
import { Connection } from '../connection/connection';
import { ConnectionEvents } from '../connection/connection-events';
import { LocalConnections } from '../connection/local-connections';
import { keptRequest } from '../connection/upgrade-request';
import { MessageRouter } from '../delivery/message-router';
import { MESH_COMMAND_NAMES, MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { AuthenticationResult, ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { ReplyThen } from '../commands/reply-then';
import { CloseCode, decodeFrame, encodeFrame, ErrorCode, ErrorName, peekFrame, type BuiltinCommandNames, type FrameId } from '../protocol';
import type { SharedState } from '../state/shared-state/shared-state';
import type { MembershipStore } from '../state/membership/membership-store';
import { Heartbeat } from './heartbeat';
import { settleWithin } from '../common/settle-within';
import { originPolicy, type OriginCheck } from './origin-policy';
import { RateLimiter } from './rate-limiter';
import { encodeReply, type ReplyProblem } from './reply-encoder';
import { MeshSocket, SocketState } from './socket-state';

/** Waits for both (so a cleanup after a failure finds every write done), then rejects with the first failure. */
async function bothSettled(a: Promise<unknown>, b: Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled([a, b]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Frames larger than this many times `maxPayload` are not buffered: the socket is closed (1009). */
const HARD_LIMIT_FACTOR = 4;

interface Refusal {
  status: number;
  message: string;
}

function refusalOf(error: unknown): Refusal {
  const e = error as { getStatus?: () => number; status?: unknown; code?: unknown; message?: unknown };
  const candidates = [typeof e?.getStatus === 'function' ? e.getStatus() : undefined, e?.status, e?.code];
  const status = candidates.find((s): s is number => typeof s === 'number' && s >= 400 && s <= 599) ?? 401;
  const message = typeof e?.message === 'string' && e.message ? e.message : STATUS_CODES[status] ?? 'Unauthorized';
  return { status, message };
}

function pathnameOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** A request whose connection failed to register gets no reply (the socket is being closed). */
const NOT_REGISTERED = Symbol('not registered');

/**
 * Holds what is written to a socket until the returned function is called (once; later calls do
 * nothing). A socket without cork (not a net.Socket) is written through at once.
 */
function holdWrites(socket: Duplex): () => void {
  const stream = socket as Duplex & { cork?: () => void; uncork?: () => void };
  if (typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return () => undefined;
  stream.cork();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    stream.uncork!();
  };
}

/** Socket errors before ws takes the socket over (ws then listens itself); one function for all. */
function ignoreSocketError(): void {}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<T>).then === 'function';
}

/** Counts work in flight and tells when none is left. */
class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  start(): void {
    this.count++;
  }

  finish(): void {
    // Checked first: a sync command brings the count back to 0 on every request.
    if (--this.count === 0 && this.waiters.length > 0) for (const wake of this.waiters.splice(0)) wake();
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * The WebSocket endpoint: HTTP upgrade (path routing, connect-time authentication, refusal with
 * an HTTP status), connection registration, frame limits, the heartbeat, and handing requests
 * to the dispatcher. It claims upgrades for its own path on the app's HTTP server before any
 * other `'upgrade'` listener runs, so a `WsAdapter` gateway on another path keeps working (that
 * adapter destroys upgrades for paths it does not know, including ours, if it sees them first).
 */
@Injectable()
export class MeshTransport {
  private readonly logger = new Logger('MeshTransport');
  private readonly wss: WebSocketServer;
  private readonly heartbeat: Heartbeat;
  private readonly assignIdCommand: string;
  private readonly errorCommand: string;
  private readonly invokeResultCommand: string;
  private readonly path: string;
  private readonly originAllowed: OriginCheck;
  /** One limiter for every connection; each keeps only its bucket (on its SocketState). */
  private readonly limiter?: RateLimiter;
  /** The listeners of every socket, shared: each finds its state on the socket (`this`). */
  private readonly onSocketMessage: (this: MeshSocket, data: RawData, isBinary: boolean) => void;
  private readonly onSocketError: (this: MeshSocket, error: Error) => void;
  private readonly onSocketClose: (this: MeshSocket) => void;
  /** Requests accepted and not yet answered (shutdown lets them finish). */
  private readonly requests = new InFlight();
  /** Cleanups of closed sockets still running (shutdown waits for them). */
  private readonly cleanups = new InFlight();
  private server?: Server;
  private ownServer = false;
  private restoreEmit?: () => void;
  private accepting = false;
  /** Set while draining: requests that arrive now are refused. */
  private draining = false;

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly local: LocalConnections,
    private readonly dispatcher: CommandDispatcher,
    private readonly channels: ChannelManager,
    private readonly records: RecordManager,
    private readonly collections: CollectionManager,
    private readonly events: ConnectionEvents,
    private readonly invoker: ClientInvoker,
    private readonly router: MessageRouter,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayload * HARD_LIMIT_FACTOR,
      WebSocket: MeshSocket,
    });
    this.heartbeat = new Heartbeat(options);
    this.assignIdCommand = names.assignId;
    this.errorCommand = names.error;
    this.invokeResultCommand = names.invokeResult;
    this.path = trimSlash(options.path);
    this.originAllowed = originPolicy(options.allowedOrigins);
    this.limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
    const transport = this;
    this.onSocketMessage = function (data, isBinary) {
      if (this.meshState) transport.onFrame(this.meshState, data as Buffer, isBinary);
    };
    this.onSocketError = function (error) {
      transport.logger.debug(`Socket error on ${this.meshState?.connection.id ?? 'a closed connection'}: ${error.message}`);
    };
    this.onSocketClose = function () {
      const state = this.meshState;
      if (!state) return;
      this.meshState = undefined;
      transport.cleanups.start();
      transport
        .onClose(state)
        .catch((error: Error) => transport.logger.error(error.message, error.stack))
        .finally(() => transport.cleanups.finish());
    };
  }

  /** Serves the endpoint on an existing HTTP server (the Nest app's). */
  attach(server: Server): void {
    if (this.server) throw new Error('MeshTransport is already attached');
    this.server = server;
    const originalEmit = server.emit;
    const claim = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (trimSlash(pathnameOf(request.url)) !== this.path) return false;
      this.handleUpgrade(request, socket, head);
      return true;
    };
    // Every event of the server passes here: named parameters and `arguments`, no arrays per call.
    server.emit = function (this: Server, event: string | symbol, request?: unknown, socket?: unknown, head?: unknown): boolean {
      if (event === 'upgrade' && claim(request as IncomingMessage, socket as Duplex, head as Buffer)) return true;
      return originalEmit.apply(this, arguments as unknown as Parameters<Server['emit']>);
    } as Server['emit'];
    // Node only emits 'upgrade' when someone listens for it; this listener also answers
    // upgrades for unknown paths when nobody else (a gateway adapter) is there to.
    const unclaimed = (_request: IncomingMessage, socket: Duplex) => {
      if (server.listenerCount('upgrade') === 1) this.refuse(socket, { status: 404, message: 'Not Found' });
    };
    server.on('upgrade', unclaimed);
    this.restoreEmit = () => {
      server.emit = originalEmit;
      server.off('upgrade', unclaimed);
    };
    this.accepting = true;
    this.heartbeat.start();
  }

  /** Serves the endpoint on its own HTTP server (the `port` option). */
  async listen(port: number, host: string): Promise<void> {
    const server = createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
      res.end('Upgrade Required');
    });
    this.ownServer = true;
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** The standalone server's address (with the `port` option). */
  address(): AddressInfo | undefined {
    const address = this.ownServer ? this.server?.address() : undefined;
    return address && typeof address === 'object' ? address : undefined;
  }

  private held?: Promise<void>;

  /** True while the endpoint takes new connections (false before start-up and once shutdown began). */
  get isAccepting(): boolean {
    return this.accepting;
  }

  /**
   * New connections wait at the upgrade until `until` settles: the node is rejoining the cluster
   * under a new id, and a connection registered meanwhile would be filed under the old one.
   */
  holdUpgrades(until: Promise<unknown>): void {
    const held = until.then(
      () => undefined,
      () => undefined,
    );
    this.held = held;
    void held.then(() => {
      if (this.held === held) this.held = undefined;
    });
  }

  /**
   * Origin check, authentication, then the WebSocket handshake. Synchronous unless the app's
   * `allowedOrigins` or `authenticateConnection` returns a promise (or upgrades are held): no
   * promise and no microtask per connection on the common path.
   */
  private handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError);
    if (!this.accepting) return this.refuse(socket, { status: 503, message: 'Server is shutting down' });
    let allowed: boolean | PromiseLike<boolean>;
    try {
      allowed = this.originAllowed(request);
    } catch (error) {
      allowed = this.originCheckFailed(error);
    }
    if (!isThenable(allowed)) return this.authenticate(request, socket, head, allowed === true);
    allowed.then(
      (ok) => this.authenticate(request, socket, head, ok === true),
      (error: unknown) => this.authenticate(request, socket, head, this.originCheckFailed(error)),
    );
  }

  private originCheckFailed(error: unknown): false {
    this.logger.warn(`The allowedOrigins function threw; connection refused: ${(error as Error)?.message}`);
    return false;
  }

  private authenticate(request: IncomingMessage, socket: Duplex, head: Buffer, originAllowed: boolean): void {
    if (!originAllowed) return this.refuse(socket, { status: 403, message: 'Origin not allowed' });
    const authenticate = this.options.authenticateConnection;
    if (!authenticate) return this.admit(request, socket, head, undefined);
    let result: AuthenticationResult | PromiseLike<AuthenticationResult>;
    try {
      result = authenticate(request);
    } catch (error) {
      return this.refuse(socket, refusalOf(error));
    }
    if (!isThenable(result)) return this.authenticated(request, socket, head, result);
    result.then(
      (metadata) => this.authenticated(request, socket, head, metadata),
      (error: unknown) => this.refuse(socket, refusalOf(error)),
    );
  }

  private authenticated(request: IncomingMessage, socket: Duplex, head: Buffer, metadata: AuthenticationResult): void {
    if (metadata === null || metadata === undefined || metadata === false) {
      return this.refuse(socket, { status: 401, message: 'Unauthorized' });
    }
    this.admit(request, socket, head, metadata === true || !metadata ? undefined : metadata);
  }

  private admit(request: IncomingMessage, socket: Duplex, head: Buffer, metadata: Record<string, unknown> | undefined): void {
    if (this.held) {
      void this.held.then(() => this.admit(request, socket, head, metadata));
      return;
    }
    if (socket.destroyed || !this.accepting) return;
    // The 101 response waits in the socket for the connection's id (sent once it is registered):
    // the client gets both in one packet, and the node makes one write per connect, not two.
    const held = holdWrites(socket);
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('error', ignoreSocketError);
      this.onConnection(ws as MeshSocket, request, metadata, held);
    });
  }

  private refuse(socket: Duplex, { status, message }: Refusal): void {
    if (socket.destroyed) return;
    const body = `${message}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  private onConnection(ws: MeshSocket, request: IncomingMessage, metadata: Record<string, unknown> | undefined, held: () => void): void {
    // The connection keeps the request line, headers and socket; the message itself is let go.
    const connection = new Connection(randomUUID(), ws, keptRequest(request), this.nodes.nodeId, this.options.maxBufferedAmount);
    const state = new SocketState(connection);
    this.limiter?.fill(state);
    ws.meshState = state;
    ws.on('message', this.onSocketMessage);
    ws.on('error', this.onSocketError);
    ws.on('close', this.onSocketClose);
    this.local.add(connection);
    this.heartbeat.track(state);
    state.registered = this.register(state, metadata, held);
  }

  /** Stores and announces the connection, then gives the client its id; false if that failed (the socket is closed). */
  private async register(state: SocketState, metadata: Record<string, unknown> | undefined, release: () => void): Promise<boolean> {
    const { connection } = state;
    let ok = true;
    try {
      // The connection's own keys and the registrations of the hooks (the client registry) are
      // independent writes: sent together, they cost one round trip to Redis, and one write.
      this.store.coalesceWrites?.();
      await bothSettled(this.store.addConnection(this.nodes.nodeId, connection.id, metadata), this.events.emitRegister(connection, metadata));
      await this.events.emitConnect(connection);
    } catch (error) {
      this.logger.error(`Could not register connection ${connection.id}: ${(error as Error).message}`);
      release();
      connection.close(1011, 'Registration failed');
      // What did get written is removed as for a closed connection (the write that failed may have landed).
      void this.events
        .emitDisconnect(connection)
        .then(() => this.store.removeConnection(connection.id))
        .catch(() => undefined);
      ok = false;
    }
    if (ok) {
      connection.send(this.assignIdCommand, connection.id);
      release();
    }
    state.ready = ok;
    state.registered = undefined;
    return ok;
  }

  private onFrame(state: SocketState, data: Buffer, isBinary: boolean): void {
    const { connection } = state;
    // Every frame counts against the budget, whatever it turns out to be.
    const verdict = this.limiter ? this.limiter.take(state) : 'ok';
    if (verdict === 'abusive') return connection.close(CloseCode.POLICY_VIOLATION, 'Rate limit exceeded');
    if (isBinary) return this.refuseFrame(connection, this.headOf(data), ErrorCode.BAD_FRAME, 'Binary frames are not supported; send JSON text frames');
    if (data.length > this.options.maxPayload) {
      return this.refuseFrame(connection, this.headOf(data), ErrorCode.TOO_LARGE, `Frame of ${data.length} bytes is over the limit of ${this.options.maxPayload} bytes`);
    }
    const decoded = decodeFrame(data.toString(), this.options.maxPayloadDepth);
    if (!decoded.ok) return this.refuseFrame(connection, decoded, ErrorCode.BAD_FRAME, decoded.reason);
    const { id, command, payload, idempotencyKey } = decoded.frame;
    if (command.length > this.options.maxNameLength) {
      return this.sendError(connection, id, ErrorCode.BAD_FRAME, `Command name of ${command.length} characters is over the limit of ${this.options.maxNameLength}`);
    }
    // Answers to what this node asked for are taken even over the limit (they still counted).
    if (this.heartbeat.handle(state, command)) return;
    if (command === this.invokeResultCommand && id !== undefined) return this.invoker.handleResult(connection, id, payload);
    if (verdict === 'over') {
      const { limit, windowMs } = this.options.rateLimit as { limit: number; windowMs: number };
      return this.sendError(connection, id, ErrorCode.RATE_LIMIT, `Rate limit of ${limit} frames per ${windowMs} ms exceeded`, ErrorName.PROTOCOL, command);
    }
    if (id === undefined) return this.sendError(connection, undefined, ErrorCode.BAD_FRAME, `Request "${command}" has no "id"`);
    if (this.draining) return this.sendError(connection, id, ErrorCode.SERVER, 'Server is shutting down; retry on another node', 'ShutdownError', command);
    if (state.inFlight >= this.options.maxInFlight) {
      const message = `Too many requests in flight on this connection (limit ${this.options.maxInFlight}); wait for replies before sending more`;
      return this.sendError(connection, id, ErrorCode.LIMIT, message, ErrorName.LIMIT, command);
    }
    // A connection whose registration failed is being closed: its requests get no reply.
    const registering = state.ready ? undefined : state.registered;
    if (!state.ready && !registering) return;
    state.inFlight++;
    this.requests.start();
    // Once the connection is registered (nearly always), a request goes straight to the dispatcher,
    // and a command that answers synchronously is replied to before this frame's handler returns.
    const result = registering
      ? registering.then((ok) => (ok ? this.dispatcher.run(connection, id, command, payload, idempotencyKey) : NOT_REGISTERED))
      : this.dispatcher.run(connection, id, command, payload, idempotencyKey);
    if (!(result instanceof Promise)) return this.reply(connection, state, id, command, result);
    result.then(
      (reply) => this.reply(connection, state, id, command, reply),
      (error: Error) => {
        this.logger.error(error.message, error.stack);
        state.inFlight--;
        this.requests.finish();
      },
    );
  }

  private reply(connection: Connection, state: SocketState, id: FrameId, command: string, reply: unknown): void {
    const then = reply instanceof ReplyThen ? reply : undefined;
    const payload = then ? then.payload : reply;
    if (payload !== NOT_REGISTERED) connection.sendRaw(encodeReply(id, command, payload, this.options.maxBufferedAmount, (problem) => this.replyProblem(command, problem)));
    state.inFlight--;
    this.requests.finish();
    then?.afterReply();
  }

  private replyProblem(command: string, problem: ReplyProblem): void {
    if (problem.kind === 'unencodable') this.logger.error(`The reply to "${command}" could not be encoded as JSON: ${problem.error.message}`);
    else this.logger.warn(`The reply to "${command}" (${problem.bytes} bytes) is over maxBufferedAmount; answered ETOOLARGE`);
  }

  /** The id and command of a frame that will not be handled (binary, or too large), as far as they can be read. */
  private headOf(data: Buffer): { id?: FrameId; command?: string } {
    if (data.length > this.options.maxPayload) return peekFrame(data.toString());
    const decoded = decodeFrame(data.toString(), this.options.maxPayloadDepth);
    return decoded.ok ? decoded.frame : decoded;
  }

  /**
   * Refuses a frame at the edge. An invoke answer fails that invoke now, rather than at its
   * deadline (and gets no reply: the client asked nothing); anything else gets an error reply with
   * its id, or an `<prefix>/error` push when none could be read.
   */
  private refuseFrame(connection: Connection, frame: { id?: FrameId; command?: string }, code: string, reason: string): void {
    if (frame.command === this.invokeResultCommand && frame.id !== undefined) {
      // Server invokes have string ids; an answer with another id answers nothing.
      if (typeof frame.id === 'string') this.invoker.handleResult(connection, frame.id, { error: `The client's answer was refused: ${reason}`, code, name: ErrorName.PROTOCOL });
      return;
    }
    this.sendError(connection, frame.id, code, reason);
  }

  /** An error reply to a request (echoing its command when known), or an `<prefix>/error` push when it had no id. */
  private sendError(connection: Connection, id: FrameId | undefined, code: string, message: string, name: string = ErrorName.PROTOCOL, command = this.errorCommand): void {
    const payload = { error: message, code, name };
    connection.sendRaw(encodeFrame(id === undefined ? { command: this.errorCommand, payload } : { id, command, payload }));
  }

  private async onClose(state: SocketState): Promise<void> {
    const { connection } = state;
    connection.markClosed();
    this.local.delete(connection);
    this.heartbeat.untrack(state);
    this.router.connectionClosed(connection.id);
    await Promise.all([this.channels.removeConnection(connection), this.records.removeConnection(connection), this.collections.removeConnection(connection)]);
    if (!(state.registered ? await state.registered : state.ready)) return;
    try {
      this.store.coalesceWrites?.();
      await this.events.emitDisconnect(connection);
      await this.store.removeConnection(connection.id);
    } catch (error) {
      this.logger.error(`Could not clean up connection ${connection.id}: ${(error as Error).message}`);
    }
  }

  /**
   * Stops accepting, lets requests already accepted finish (up to `drainTimeout`), closes every
   * socket with 1001 and waits for their cleanup.
   */
  async close(): Promise<void> {
    this.accepting = false;
    this.draining = true;
    this.heartbeat.stop();
    await settleWithin(this.requests.idle(), this.options.drainTimeout);
    for (const connection of [...this.local.values()]) connection.close(CloseCode.GOING_AWAY, 'Server shutting down');
    for (const connection of [...this.local.values()]) {
      // Peers that do not answer the closing handshake are dropped after a short grace period.
      setTimeout(() => connection.socket.terminate(), 1000).unref();
    }
    // A socket leaves `local` in its 'close' handler, which also queues its cleanup.
    const deadline = Date.now() + 2000;
    while (this.local.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await settleWithin(this.cleanups.idle(), this.options.drainTimeout + 2000);
    this.restoreEmit?.();
    if (this.ownServer && this.server) {
      const server = this.server;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.server = undefined;
    this.wss.close();
  }
}
