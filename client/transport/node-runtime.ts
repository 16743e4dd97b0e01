/**
 * What the client uses only in Node.js: the `ws` package and the worker-thread transport. A
 * module of its own, loaded with plain `import`s so that Node bundlers (esbuild, webpack) include
 * or externalise `ws` as they do any dependency. Browser bundles get `node-runtime.browser.ts`
 * instead (the package's `browser` field maps one to the other), so they carry neither `ws` nor
 * the worker code.
 */
import * as threads from 'node:worker_threads';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../types';
import type { SocketOptions } from './transport';
import { WorkerTransport } from './worker-transport';

export interface NodeRuntime {
  /** `ws`'s WebSocket (it can send upgrade headers, which the WHATWG one cannot). */
  WebSocket: WebSocketConstructor;
  /** A transport whose socket lives in a worker thread, so that the main thread can block on it. */
  createWorkerTransport(options: SocketOptions): WorkerTransport;
}

export const nodeRuntime: NodeRuntime | undefined = {
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  createWorkerTransport: (options) => new WorkerTransport(threads, options),
};
