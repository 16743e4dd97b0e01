import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { builtinCommands, encodeFrame, isErrorPayload, type FrameId } from '../protocol';
import { ClientDisconnectedError, ClientInvocationError, MeshRequestTimeoutError } from './cluster-errors';

interface PendingInvoke {
  connection: Connection;
  clientId: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Calls a handler on a client connected to this node over the wire (`<prefix>/invoke`) and
 * matches its `<prefix>/invoke-result`. This node enforces the deadline: a client that never
 * answers times out, one whose socket closes fails at once.
 */
@Injectable()
export class ClientInvoker {
  private readonly pending = new Map<string, PendingInvoke>();
  private readonly invokeCommand: string;
  private counter = 0;

  constructor(@Inject(MESH_RESOLVED_OPTIONS) options: ResolvedMeshOptions) {
    this.invokeCommand = builtinCommands(options.prefix).invoke;
  }

  invoke(connection: Connection, clientId: string, type: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (!connection.isOpen) return Promise.reject(new ClientDisconnectedError(clientId));
    const id = `inv-${(++this.counter).toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MeshRequestTimeoutError(`Client ${clientId} did not answer "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { connection, clientId, resolve, reject, timer });
      if (!connection.sendRaw(encodeFrame({ id, command: this.invokeCommand, payload: { type, data } }))) {
        this.settle(id, undefined, new ClientDisconnectedError(clientId));
      }
    });
  }

  /** Handles an `<prefix>/invoke-result` frame from a connection. */
  handleResult(connection: Connection, id: FrameId, payload: unknown): void {
    const pending = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (!pending || pending.connection !== connection) return;
    if (isErrorPayload(payload)) {
      this.settle(String(id), undefined, new ClientInvocationError(payload.error, payload.code, payload.name, payload.details));
    } else {
      this.settle(String(id), payload !== null && typeof payload === 'object' ? (payload as { result?: unknown }).result : undefined);
    }
  }

  /** Fails every invoke waiting on a connection that closed. */
  connectionClosed(connection: Connection): void {
    for (const [id, pending] of this.pending) {
      if (pending.connection === connection) this.settle(id, undefined, new ClientDisconnectedError(pending.clientId));
    }
  }

  private settle(id: string, value: unknown, error?: Error): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(value);
  }
}
