import { MeshError } from './mesh.error';

/** The client id is not registered (never connected, left, or its node died and was cleaned up). */
export class ClientNotFoundError extends MeshError {
  constructor(readonly clientId: string) {
    super(`Client not found: ${clientId}`, 'ECLIENTNOTFOUND');
  }
}

/** The registry names an owner, but the client's socket is gone there (or the owner is unreachable). */
export class ClientDisconnectedError extends MeshError {
  constructor(readonly clientId: string) {
    super(`Client disconnected: ${clientId}`, 'ECLIENTDISCONNECTED');
  }
}

/**
 * @internal The node a cached route pointed at has no socket for the client (it moved or left).
 * The caller reads the registry again instead of failing; never surfaces from `invoke`.
 */
export class ClientNotOnNodeError extends MeshError {
  constructor(readonly clientId: string) {
    super(`Client ${clientId} is not connected to this node`, 'ECLIENTNOTONNODE');
  }
}

/** The client's handler failed; `code` and the message are the client's own. */
export class ClientInvocationError extends MeshError {
  constructor(
    message: string,
    code: string = 'EHANDLER',
    /** The `name` the client gave its error. */
    readonly clientErrorName?: string,
    details?: unknown,
  ) {
    super(message, code, details);
  }
}

/** No answer by the deadline (from the client, or from the node that owns it). */
export class MeshRequestTimeoutError extends MeshError {
  constructor(message: string) {
    super(message, 'ETIMEOUT');
  }
}

/** A node-to-node request found no listener on the target node's channel (the node is gone). */
export class MeshNodeUnreachableError extends MeshError {
  constructor(readonly nodeId: string) {
    super(`Node ${nodeId} is unreachable`, 'ENODEUNREACHABLE');
  }
}

/** The target node has no handler for a request type. */
export class MeshNoHandlerError extends MeshError {
  constructor(readonly type: string) {
    super(`No handler for node request "${type}"`, 'ENOHANDLER');
  }
}
