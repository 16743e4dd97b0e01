import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What a connection keeps of its HTTP upgrade request (`connection.request`, and what
 * `resolveClientId` gets): the request line, the headers without the handshake's own
 * (`connection`, `upgrade`, `sec-websocket-key`, `-version`, `-extensions`) and the socket
 * (`socket.remoteAddress`). The whole `IncomingMessage` (stream state, raw headers, trailers)
 * would cost about 1 KB per connection for as long as the socket lives; `allowedOrigins` and
 * `authenticateConnection`, which run at the upgrade, get it.
 */
export interface UpgradeRequest {
  readonly method?: string;
  /** The path with the query string, as the client sent it. */
  readonly url?: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
}

/** Headers that only served the WebSocket handshake, which ws has completed. */
const HANDSHAKE_HEADERS = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']);

function withoutHandshake(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) if (!HANDSHAKE_HEADERS.has(name)) kept[name] = headers[name];
  return kept;
}

/** The fields of an upgrade request a connection keeps. */
class KeptRequest implements UpgradeRequest {
  readonly method?: string;
  readonly url?: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;

  constructor(request: IncomingMessage) {
    this.method = request.method;
    this.url = request.url;
    // Node builds a new string per request; nearly every one is "1.1".
    this.httpVersion = request.httpVersion === '1.1' ? '1.1' : request.httpVersion;
    this.headers = withoutHandshake(request.headers);
    this.socket = request.socket;
  }
}

/** The part of `request` worth keeping for the life of a connection. */
export function keptRequest(request: IncomingMessage): UpgradeRequest {
  return new KeptRequest(request);
}
