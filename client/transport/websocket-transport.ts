import { MeshUnsupportedError } from '../errors';
import type { WebSocketConstructor, WebSocketLike } from '../types';
import type { SocketOptions, Transport, TransportConnection, TransportHandlers } from './transport';

const OPEN = 1;
const CLOSED = 3;

/**
 * Picks the `WebSocket` class: the explicit one, else `ws` in Node (`nodeWebSocket`), else the
 * global one. `headers` need `ws`: browsers cannot send them.
 */
export function resolveWebSocket(explicit: WebSocketConstructor | undefined, nodeWebSocket: WebSocketConstructor | undefined, options: SocketOptions): WebSocketConstructor {
  if (explicit) return explicit;
  if (nodeWebSocket) return nodeWebSocket;
  if (options.headers) throw new MeshUnsupportedError('The "headers" option needs Node.js (the ws package); browsers cannot set upgrade headers');
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!global) throw new MeshUnsupportedError('No WebSocket class: pass one with the "WebSocket" option');
  return global;
}

/** The socket on the calling thread. */
export class WebSocketTransport implements Transport {
  constructor(
    private readonly WebSocketClass: WebSocketConstructor,
    private readonly options: SocketOptions,
  ) {}

  connect(url: string, handlers: TransportHandlers): TransportConnection {
    const { protocols, headers } = this.options;
    const socket = new this.WebSocketClass(url, protocols, headers ? { headers } : undefined);
    let opened = false;
    let failure: { message?: string; status?: number } = {};
    let closed: () => void = () => undefined;
    const whenClosed = new Promise<void>((resolve) => (closed = resolve));

    // `ws` reports a refused upgrade with its HTTP status; other runtimes only say "error".
    const emitter = socket as unknown as { once?: (event: string, fn: (...args: any[]) => void) => void; terminate?: () => void };
    emitter.once?.('unexpected-response', (_req: unknown, res: { statusCode?: number }) => {
      failure = { message: `Server refused the WebSocket upgrade with HTTP ${res.statusCode}`, status: res.statusCode };
      emitter.terminate?.();
    });
    socket.onopen = () => {
      opened = true;
      handlers.onOpen();
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') handlers.onMessage(event.data);
    };
    socket.onerror = (event: { message?: string; error?: { message?: string } } | undefined) => {
      failure.message ??= event?.message ?? event?.error?.message;
    };
    socket.onclose = (event) => {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      closed();
      handlers.onClose({ code: event.code, reason: event.reason, failure: opened ? undefined : failure });
    };

    return {
      send: (data) => {
        if (socket.readyState === OPEN) socket.send(data);
      },
      close: (code, reason) => {
        if (socket.readyState !== CLOSED) socket.close(code, reason);
        return whenClosed;
      },
      terminate: () => {
        if (emitter.terminate) emitter.terminate();
        else socket.close();
      },
    };
  }

  async dispose(): Promise<void> {}
}
