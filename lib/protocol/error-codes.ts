/** Error codes carried in error payloads (docs/protocol.md, "Errors"). */
export const ErrorCode = {
  /** A handler or middleware threw an `Error` with no `code` of its own. */
  SERVER: 'ESERVER',
  /** Something that is not an `Error` was thrown. */
  UNKNOWN: 'EUNKNOWN',
  /** Unknown command. */
  NOT_FOUND: 'ENOTFOUND',
  /** A guard, middleware or exposure rule denied the command. */
  FORBIDDEN: 'EFORBIDDEN',
  /** The payload failed validation (a Nest pipe). */
  INVALID: 'EINVALID',
  /** The frame is over the size limit. */
  TOO_LARGE: 'ETOOLARGE',
  /** The connection is over its rate limit. */
  RATE_LIMIT: 'ERATELIMIT',
  /** The frame is not a JSON object with a string `command` (or has no usable id, or nests too deep). */
  BAD_FRAME: 'EBADFRAME',
  /** A per-connection limit was reached: requests in flight, channels subscribed, rooms joined. */
  LIMIT: 'ELIMIT',
  /**
   * An idempotency key that cannot be honoured: on a command not marked idempotent, reused with
   * another payload, too short to be a secret, or the first run's reply was not kept.
   */
  IDEMPOTENCY: 'EIDEMPOTENCY',
  /** The first run of a command with this idempotency key is still going: ask again later. */
  IN_PROGRESS: 'EINPROGRESS',
  /** A transaction (`<prefix>/transaction`) was malformed or not allowed: nothing of it was written. */
  TRANSACTION: 'ETXN',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The `name` that goes with each code the server produces itself. */
export const ErrorName = {
  UNKNOWN: 'UnknownError',
  COMMAND: 'CommandError',
  FORBIDDEN: 'ForbiddenError',
  VALIDATION: 'ValidationError',
  PROTOCOL: 'ProtocolError',
  LIMIT: 'LimitError',
  IDEMPOTENCY: 'IdempotencyError',
  TRANSACTION: 'TransactionError',
} as const;

/** The payload of an error reply (the reference clients resolve with it). */
export interface ErrorPayload {
  error: string;
  code: string;
  name: string;
  /** Validation messages, for `EINVALID`. */
  details?: unknown;
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorPayload).error === 'string' &&
    typeof (value as ErrorPayload).code === 'string'
  );
}

/**
 * The error payload of a thrown value: an `Error` keeps its message, its own string `code` (else
 * `fallbackCode`), its name and its `details`; anything else becomes `{ code: unknownCode, name:
 * 'UnknownError' }`. Shared by the server (for commands) and the client (for invoke handlers).
 */
export function errorPayloadOf(error: unknown, fallbackCode: string, unknownCode: string = ErrorCode.UNKNOWN): ErrorPayload {
  if (!(error instanceof Error)) return { error: String(error), code: unknownCode, name: ErrorName.UNKNOWN };
  const { code, details } = error as { code?: unknown; details?: unknown };
  const payload: ErrorPayload = { error: error.message, code: typeof code === 'string' ? code : fallbackCode, name: error.name || 'Error' };
  if (details !== undefined) payload.details = details;
  return payload;
}
