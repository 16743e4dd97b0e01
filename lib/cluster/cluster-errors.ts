/** The client id is not registered (never connected, left, or its node died and was cleaned up). */
export class ClientNotFoundError extends Error {
  readonly code = 'ECLIENTNOTFOUND';
  constructor(readonly clientId: string) {
    super(`Client not found: ${clientId}`);
    this.name = 'ClientNotFoundError';
  }
}

/** The registry names an owner, but the client's socket is gone there (or the owner is unreachable). */
export class ClientDisconnectedError extends Error {
  readonly code = 'ECLIENTDISCONNECTED';
  constructor(readonly clientId: string) {
    super(`Client disconnected: ${clientId}`);
    this.name = 'ClientDisconnectedError';
  }
}

/**
 * Internal: the node a cached route pointed at has no socket for the client (it moved or left).
 * The caller reads the registry again instead of failing; never surfaces from `invoke`.
 */
export class ClientNotOnNodeError extends Error {
  readonly code = 'ECLIENTNOTONNODE';
  constructor(readonly clientId: string) {
    super(`Client ${clientId} is not connected to this node`);
    this.name = 'ClientNotOnNodeError';
  }
}

/** The client's handler failed; `code` and the message are the client's own. */
export class ClientInvocationError extends Error {
  constructor(
    message: string,
    readonly code: string = 'EHANDLER',
    readonly clientErrorName?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ClientInvocationError';
  }
}

/** No answer by the deadline (from the client, or from the node that owns it). */
export class MeshRequestTimeoutError extends Error {
  readonly code = 'ETIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'MeshRequestTimeoutError';
  }
}

/** A node-to-node request found no listener on the target node's channel (the node is gone). */
export class MeshNodeUnreachableError extends Error {
  readonly code = 'ENODEUNREACHABLE';
  constructor(readonly nodeId: string) {
    super(`Node ${nodeId} is unreachable`);
    this.name = 'MeshNodeUnreachableError';
  }
}

/** The target node has no handler for a request type. */
export class MeshNoHandlerError extends Error {
  readonly code = 'ENOHANDLER';
  constructor(readonly type: string) {
    super(`No handler for node request "${type}"`);
    this.name = 'MeshNoHandlerError';
  }
}

/** An error as it crosses between nodes. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: unknown;
  clientId?: string;
  clientErrorName?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'UnknownError', message: String(error), code: 'EUNKNOWN' };
  const e = error as Error & { code?: unknown; details?: unknown; clientId?: unknown; clientErrorName?: unknown };
  return {
    name: e.name,
    message: e.message,
    code: typeof e.code === 'string' ? e.code : undefined,
    details: e.details,
    clientId: typeof e.clientId === 'string' ? e.clientId : undefined,
    clientErrorName: typeof e.clientErrorName === 'string' ? e.clientErrorName : undefined,
  };
}

/** Rebuilds the same error class, with the same fields, on the calling node. */
export function deserializeError(error: SerializedError): Error {
  switch (error.name) {
    case 'ClientNotFoundError':
      return new ClientNotFoundError(error.clientId ?? '');
    case 'ClientDisconnectedError':
      return new ClientDisconnectedError(error.clientId ?? '');
    case 'ClientNotOnNodeError':
      return new ClientNotOnNodeError(error.clientId ?? '');
    case 'ClientInvocationError':
      return new ClientInvocationError(error.message, error.code, error.clientErrorName, error.details);
    case 'MeshRequestTimeoutError':
      return new MeshRequestTimeoutError(error.message);
    case 'MeshNoHandlerError':
      return Object.assign(new MeshNoHandlerError(''), { message: error.message });
    default:
      return Object.assign(new Error(error.message), { name: error.name, code: error.code, details: error.details });
  }
}
