import { ClientDisconnectedError, ClientInvocationError, ClientNotFoundError, ClientNotOnNodeError, MeshNoHandlerError, MeshRequestTimeoutError } from '../errors';

/** An error as it crosses between nodes (in a node-bus reply). */
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
