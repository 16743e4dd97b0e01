import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ConnectionEvents } from '../connection/connection-events';
import { MESH_COMMAND_NAMES } from '../mesh.constants';
import { encodeFrame, isErrorPayload, type BuiltinCommandNames, type FrameId } from '../protocol';
import { PendingRequests } from './pending-requests';
import { ClientDisconnectedError, ClientInvocationError, MeshRequestTimeoutError } from '../errors';

/**
 * Calls a handler on a client connected to this node over the wire (`<prefix>/invoke`) and
 * matches its `<prefix>/invoke-result`. This node enforces the deadline: a client that never
 * answers times out, one whose socket closes fails at once.
 */
@Injectable()
export class ClientInvoker {
  private readonly pending = new PendingRequests<{ connection: Connection; clientId: string }>();
  private readonly invokeCommand: string;
  private counter = 0;

  constructor(@Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames, events: ConnectionEvents) {
    this.invokeCommand = names.invoke;
    events.onDisconnect((connection) => this.connectionClosed(connection));
  }

  /** `idempotencyKey`: sent with the invoke, so that a client that answered it already answers again without running its handler. */
  invoke(connection: Connection, clientId: string, type: string, data: unknown, timeoutMs: number, idempotencyKey?: string): Promise<unknown> {
    if (!connection.isOpen) return Promise.reject(new ClientDisconnectedError(clientId));
    const id = `inv-${(++this.counter).toString(36)}`;
    let frame: string;
    try {
      frame = encodeFrame({ id, command: this.invokeCommand, payload: idempotencyKey === undefined ? { type, data } : { type, data, idempotencyKey } });
    } catch (error) {
      return Promise.reject(new TypeError(`The data of invoke "${type}" cannot be encoded as JSON: ${(error as Error).message}`));
    }
    const answer = this.pending.wait(
      id,
      timeoutMs,
      () => new MeshRequestTimeoutError(`Client ${clientId} did not answer "${type}" within ${timeoutMs} ms`),
      { connection, clientId },
    );
    if (!connection.sendRaw(frame)) {
      this.pending.settle(id, undefined, new ClientDisconnectedError(clientId));
    }
    return answer;
  }

  /** Handles an `<prefix>/invoke-result` frame from a connection. */
  handleResult(connection: Connection, id: FrameId, payload: unknown): void {
    const key = String(id);
    if (typeof id !== 'string' || this.pending.meta(key)?.connection !== connection) return;
    if (isErrorPayload(payload)) {
      this.pending.settle(key, undefined, new ClientInvocationError(payload.error, payload.code, payload.name, payload.details));
    } else {
      this.pending.settle(key, payload !== null && typeof payload === 'object' ? (payload as { result?: unknown }).result : undefined);
    }
  }

  /** Fails every invoke waiting on a connection that closed. */
  private connectionClosed(connection: Connection): void {
    this.pending.failWhere(
      (meta) => meta.connection === connection,
      (meta) => new ClientDisconnectedError(meta.clientId),
    );
  }
}
