import type { ErrorPayload } from '../lib/protocol';

/** Codes of the errors the client raises itself (server error codes are in `ErrorCode`). */
export const MeshClientErrorCode = {
  /** A command got no reply within its timeout. */
  TIMEOUT: 'ETIMEOUT',
  /** The socket could not be opened, or the server refused the upgrade. */
  CONNECTION: 'ECONNECTION',
  /** The connection dropped while the command was in flight. */
  CONNECTION_LOST: 'ECONNLOST',
  /** `close()` was called. */
  CLOSED: 'ECLOSED',
  /** The call is not possible in this runtime or with these options (`commandSync`). */
  UNSUPPORTED: 'EUNSUPPORTED',
  /** An invoke handler (`client.handle`) threw an error without a string `code` of its own. */
  HANDLER: 'EHANDLER',
  /** An event listener or a channel callback threw (reported as an `error` event). */
  LISTENER: 'ELISTENER',
  /** After a reconnect, the server refused a channel or room the client had (its guard now says no). */
  RESUBSCRIBE: 'ERESUBSCRIBE',
} as const;

/** Base class of every error the client throws or rejects with. */
export class MeshClientError extends Error {
  constructor(
    message: string,
    /** A stable code, e.g. `ETIMEOUT`. */
    readonly code: string,
    name = 'MeshClientError',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = name;
  }
}

/** A command got no reply within its timeout. */
export class MeshTimeoutError extends MeshClientError {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`Command "${command}" timed out after ${timeoutMs}ms`, MeshClientErrorCode.TIMEOUT, 'TimeoutError');
  }
}

/** The socket could not be opened or was closed before the server assigned a connection id. */
export class MeshConnectionError extends MeshClientError {
  constructor(
    message: string,
    /** The HTTP status of a refused upgrade (e.g. 401), when the runtime reports it (Node). */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, MeshClientErrorCode.CONNECTION, 'ConnectionError', options);
  }
}

/** The connection dropped while the command was in flight (it may or may not have run). */
export class MeshConnectionLostError extends MeshClientError {
  constructor(readonly command?: string) {
    super(
      command ? `Connection lost before command "${command}" was answered` : 'Connection lost',
      MeshClientErrorCode.CONNECTION_LOST,
      'ConnectionLostError',
    );
  }
}

/** `close()` was called while the command was pending, or a command was issued after it. */
export class MeshClosedError extends MeshClientError {
  constructor(readonly command?: string) {
    super(
      command ? `Client closed before command "${command}" was answered` : 'Client is closed; call connect() to reopen it',
      MeshClientErrorCode.CLOSED,
      'ClosedError',
    );
  }
}

/** The server answered with an error payload `{ error, code, name, details? }`. */
export class MeshCommandError extends MeshClientError {
  /** Validation messages, for `EINVALID`. */
  readonly details?: unknown;

  constructor(
    readonly command: string,
    payload: ErrorPayload,
  ) {
    super(payload.error, payload.code, typeof payload.name === 'string' ? payload.name : 'CommandError');
    if (payload.details !== undefined) this.details = payload.details;
  }
}

/** The call is not possible here: `commandSync` in a browser, or without `{ syncCommands: true }`. */
export class MeshUnsupportedError extends MeshClientError {
  constructor(message: string) {
    super(message, MeshClientErrorCode.UNSUPPORTED, 'UnsupportedError');
  }
}

/**
 * An event listener or channel callback threw. The client catches it, so that one bad callback
 * neither skips the others nor escapes the socket's message handler, and reports it as an `error`
 * event (printed with `console.error` when nothing listens for `error`).
 */
export class MeshListenerError extends MeshClientError {
  constructor(
    /** The event, or `channel:<name>` for a channel callback. */
    readonly event: string,
    cause: unknown,
  ) {
    super(`A listener for "${event}" threw: ${cause instanceof Error ? cause.message : String(cause)}`, MeshClientErrorCode.LISTENER, 'ListenerError', { cause });
  }
}

/**
 * After a reconnect the server refused a channel subscription or a room the client had (its guard
 * now says no, or the name is no longer exposed). The client dropped it and stops renewing it.
 */
export class MeshResubscribeError extends MeshClientError {
  constructor(
    readonly kind: 'channel' | 'room' | 'presence' | 'record' | 'collection',
    /** The channel, room, record or collection name (for `presence`, the room whose presence subscription was refused). */
    readonly target: string,
  ) {
    super(`After reconnecting, the server refused ${kind} "${target}"; it was dropped`, MeshClientErrorCode.RESUBSCRIBE, 'ResubscribeError');
  }
}
