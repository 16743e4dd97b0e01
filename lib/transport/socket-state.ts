import { WebSocket } from 'ws';
import type { Connection } from '../connection/connection';
import type { Beat } from './heartbeat';
import type { TokenBucket } from './rate-limiter';

/**
 * Everything the transport keeps per socket, in one object read on every frame: the
 * registration, the requests in flight, the rate limiter's bucket and the heartbeat's beat. One
 * object with plain fields instead of a limiter, a beat and map entries of their own per
 * connection (what an idle connection costs is mostly what it keeps).
 */
export class SocketState implements Beat, TokenBucket {
  /** Settles once the connection is stored and announced: true if that worked. Dropped once settled. */
  registered?: Promise<boolean>;
  /** The registration succeeded (checked synchronously on the hot path). */
  ready = false;
  /** Requests accepted and not yet answered. */
  inFlight = 0;
  tokens = 0;
  updatedAt = 0;
  slice = 0;
  slot = -1;
  awaitingPong = false;
  missedPongs = 0;
  latencyRequestedAt = 0;

  constructor(readonly connection: Connection) {}
}

/**
 * The server's sockets (ws's `WebSocket` option): a WebSocket that carries its SocketState, so
 * the transport registers the same listener functions on every socket (ws calls them with the
 * socket as `this`) instead of three closures and a `once` wrapper per connection.
 */
export class MeshSocket extends WebSocket {
  /** Set by the transport right after the upgrade; cleared when the socket closed. */
  meshState?: SocketState = undefined;
}
