import { Logger } from '@nestjs/common';
import { ErrorCode, errorPayloadOf, ErrorName, type ErrorPayload } from '../protocol';

const logger = new Logger('MeshCommands');

/** Errors the JavaScript engine raises for bugs; their messages are not meant for clients. */
const RUNTIME_ERRORS = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError', 'EvalError', 'URIError']);

interface HttpExceptionLike extends Error {
  getStatus(): number;
  getResponse(): string | Record<string, unknown>;
}

interface WsExceptionLike extends Error {
  getError(): string | Record<string, unknown>;
}

function isHttpException(error: unknown): error is HttpExceptionLike {
  return error instanceof Error && typeof (error as HttpExceptionLike).getStatus === 'function' && typeof (error as HttpExceptionLike).getResponse === 'function';
}

function isWsException(error: unknown): error is WsExceptionLike {
  return error instanceof Error && typeof (error as WsExceptionLike).getError === 'function';
}

function fromHttpException(error: HttpExceptionLike): ErrorPayload {
  const status = error.getStatus();
  const response = error.getResponse();
  const messages = typeof response === 'object' && response !== null ? response.message : undefined;
  if (status === 400) {
    const details = Array.isArray(messages) ? messages : [typeof messages === 'string' ? messages : error.message];
    const message = Array.isArray(messages) ? 'Validation failed' : error.message;
    return { error: message, code: ErrorCode.INVALID, name: ErrorName.VALIDATION, details };
  }
  if (status === 401 || status === 403) {
    return { error: error.message, code: ErrorCode.FORBIDDEN, name: ErrorName.FORBIDDEN };
  }
  if (status === 429) {
    return { error: error.message, code: ErrorCode.RATE_LIMIT, name: error.name };
  }
  return { error: error.message, code: ErrorCode.SERVER, name: error.name };
}

function fromWsException(error: WsExceptionLike): ErrorPayload {
  const body = error.getError();
  if (typeof body === 'string') return { error: body, code: ErrorCode.SERVER, name: error.name };
  const payload: ErrorPayload = {
    error: typeof body.error === 'string' ? body.error : typeof body.message === 'string' ? body.message : error.message,
    code: typeof body.code === 'string' ? body.code : ErrorCode.SERVER,
    name: typeof body.name === 'string' ? body.name : error.name,
  };
  if (body.details !== undefined) payload.details = body.details;
  return payload;
}

/**
 * Turns anything a command pipeline threw into the protocol's error payload. Stack traces never
 * leave the server; engine errors (bugs) are logged and answered with a generic message unless
 * `exposeInternalErrors` is set.
 */
export function toErrorPayload(error: unknown, exposeInternalErrors = false): ErrorPayload {
  if (!(error instanceof Error)) return errorPayloadOf(error, ErrorCode.SERVER);
  if (isHttpException(error)) return fromHttpException(error);
  if (isWsException(error)) return fromWsException(error);
  const code = (error as { code?: unknown }).code;
  // Logged once, here: an error without a code of its own is a failure worth a stack trace; one
  // with a code (MeshError and friends) is an answer the command chose, not a fault.
  if (typeof code !== 'string') logger.error(`${error.name} in a command: ${error.message}`, error.stack);
  if (typeof code !== 'string' && RUNTIME_ERRORS.has(error.name) && !exposeInternalErrors) {
    return { error: 'Internal server error', code: ErrorCode.SERVER, name: 'InternalError' };
  }
  return errorPayloadOf(error, ErrorCode.SERVER);
}

/**
 * Whether a thrown value is an answer the command chose (an error with a code of its own, a Nest
 * exception below 500, a `WsException`) rather than a failure: an idempotent command keeps the
 * first for its retries, and lets a retry run again after the second.
 */
export function isDeliberateError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isHttpException(error)) return error.getStatus() < 500;
  return isWsException(error) || typeof (error as { code?: unknown }).code === 'string';
}
