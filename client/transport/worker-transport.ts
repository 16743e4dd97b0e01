import type { MessagePort, Worker } from 'node:worker_threads';
import { MeshUnsupportedError } from '../errors';
import { SOCKET_WORKER_SOURCE } from './socket-worker-source';
import type { SocketOptions, SyncReply, Transport, TransportCloseInfo, TransportConnection, TransportHandlers } from './transport';

type WorkerThreads = typeof import('node:worker_threads');

/** Messages the socket worker posts to the main thread (see socket-worker-source.ts). */
type WorkerEvent =
  | { type: 'open'; sid: number }
  | { type: 'message'; sid: number; data: string }
  | ({ type: 'close'; sid: number } & TransportCloseInfo);

/** A reply on the sync port. */
interface SyncMessage {
  kind: 'reply' | 'lost';
  id: number;
  data?: string;
}

interface SocketEntry {
  handlers: TransportHandlers;
  closed: () => void;
}

/**
 * Node only: the socket lives in a `worker_threads` Worker, so the main thread can block in
 * `sendSync` (`Atomics.wait`) while the worker keeps reading the socket. Everything else flows as
 * messages and reaches the same `TransportHandlers` as `WebSocketTransport` would call.
 * One worker serves every socket of a client; it starts on the first `connect` and stops in `dispose`.
 */
export class WorkerTransport implements Transport {
  private worker?: Worker;
  private syncPort?: MessagePort;
  private signal?: Int32Array;
  private readonly sockets = new Map<number, SocketEntry>();
  private nextSid = 0;

  constructor(
    private readonly threads: WorkerThreads,
    private readonly options: SocketOptions,
  ) {}

  connect(url: string, handlers: TransportHandlers): TransportConnection {
    return this.open(url, handlers);
  }

  /**
   * Opens a socket and blocks the calling thread until its first frame whose command is
   * `awaitCommand` arrives (the server's `<prefix>/assign-id`), the socket closes, or `timeoutMs`
   * passes. That frame goes to the returned reply, not to `handlers.onMessage`.
   */
  connectSync(url: string, handlers: TransportHandlers, awaitCommand: string, timeoutMs: number): { connection: TransportConnection; reply: SyncReply } {
    // Negative, so that it never equals a command id (those are positive).
    const syncId = -++this.nextSyncId;
    const connection = this.open(url, handlers, { syncId, awaitCommand });
    return { connection, reply: this.waitSync(syncId, timeoutMs) };
  }

  private nextSyncId = 0;

  private open(url: string, handlers: TransportHandlers, sync?: { syncId: number; awaitCommand: string }): TransportConnection {
    const worker = this.startWorker();
    const sid = ++this.nextSid;
    let closed: () => void = () => undefined;
    const whenClosed = new Promise<void>((resolve) => (closed = resolve));
    this.sockets.set(sid, { handlers, closed });
    worker.ref();
    worker.postMessage({ type: 'open', sid, url, protocols: this.options.protocols, headers: this.options.headers, ...sync });

    return {
      send: (data) => this.post({ type: 'send', sid, data }),
      close: (code, reason) => {
        this.post({ type: 'close', sid, code, reason });
        return whenClosed;
      },
      terminate: () => this.post({ type: 'terminate', sid }),
      sendSync: (data, id, timeoutMs) => this.sendSync(sid, data, id, timeoutMs),
    };
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.detachWorker('Socket worker stopped');
    await worker.terminate();
  }

  private sendSync(sid: number, data: string, id: number, timeoutMs: number): SyncReply {
    if (!this.worker || !this.sockets.has(sid)) return { kind: 'lost' };
    this.worker.postMessage({ type: 'send-sync', sid, id, data });
    return this.waitSync(id, timeoutMs);
  }

  /** Blocks until the sync port carries the answer numbered `id`, or `timeoutMs` passes. */
  private waitSync(id: number, timeoutMs: number): SyncReply {
    if (!this.worker || !this.syncPort || !this.signal) return { kind: 'lost' };
    const { syncPort, signal, threads } = this;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Read the counter before the port: a reply posted after this read bumps the counter,
      // so Atomics.wait below returns at once instead of missing it.
      const seen = Atomics.load(signal, 0);
      for (let entry = threads.receiveMessageOnPort(syncPort); entry; entry = threads.receiveMessageOnPort(syncPort)) {
        const message = entry.message as SyncMessage;
        if (message.id !== id) continue; // a late reply to an earlier, timed-out call
        return message.kind === 'reply' ? { kind: 'reply', data: message.data ?? '' } : { kind: 'lost' };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.worker?.postMessage({ type: 'cancel-sync', id });
        return { kind: 'timeout' };
      }
      Atomics.wait(signal, 0, seen, remaining);
    }
  }

  private startWorker(): Worker {
    if (this.worker) return this.worker;
    if (typeof Atomics.wait !== 'function' || typeof SharedArrayBuffer === 'undefined') {
      throw new MeshUnsupportedError('syncCommands needs SharedArrayBuffer and Atomics.wait (Node.js)');
    }
    const { threads } = this;
    const { port1, port2 } = new threads.MessageChannel();
    const buffer = new SharedArrayBuffer(4);
    // The worker loads `ws` from beside this file; in a bundle without `ws` installed it falls back
    // to Node's own WebSocket, which Node 20 and 21 enable with a flag.
    const needsFlag = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' && process.allowedNodeEnvironmentFlags.has('--experimental-websocket');
    const worker = new threads.Worker(SOCKET_WORKER_SOURCE, {
      eval: true,
      execArgv: needsFlag ? [...process.execArgv, '--experimental-websocket'] : undefined,
      workerData: { requireFrom: __filename, syncPort: port2, signal: buffer },
      transferList: [port2],
    });
    worker.on('message', (event: WorkerEvent) => this.onWorkerEvent(event));
    worker.on('error', (err: Error) => this.onWorkerFailure(worker, err));
    worker.on('exit', () => this.onWorkerFailure(worker, new Error('Socket worker exited')));
    port1.unref();
    worker.unref();
    this.worker = worker;
    this.syncPort = port1;
    this.signal = new Int32Array(buffer);
    return worker;
  }

  private onWorkerEvent(event: WorkerEvent): void {
    const entry = this.sockets.get(event.sid);
    if (!entry) return;
    if (event.type === 'open') entry.handlers.onOpen();
    else if (event.type === 'message') entry.handlers.onMessage(event.data);
    else this.finish(event.sid, { code: event.code, reason: event.reason, failure: event.failure });
  }

  /** The worker crashed or exited on its own: every socket it held is gone. */
  private onWorkerFailure(worker: Worker, err: Error): void {
    if (worker === this.worker) this.detachWorker(err.message);
  }

  /** Forgets the worker; every socket it held reports a close. */
  private detachWorker(reason: string): void {
    this.syncPort?.close();
    this.worker = this.syncPort = this.signal = undefined;
    for (const sid of [...this.sockets.keys()]) this.finish(sid, { code: 1006, reason, failure: { message: reason } });
  }

  private finish(sid: number, info: TransportCloseInfo): void {
    const entry = this.sockets.get(sid);
    if (!entry) return;
    this.sockets.delete(sid);
    if (this.sockets.size === 0) this.worker?.unref();
    entry.closed();
    entry.handlers.onClose(info);
  }

  private post(message: { type: string; sid: number; [key: string]: unknown }): void {
    if (this.sockets.has(message.sid)) this.worker?.postMessage(message);
  }
}
