import { ErrorCode, ErrorName } from '../protocol';

/**
 * The root of every error this library raises, with a stable `code`. From a command, it reaches
 * the client as `{ error, code, name, details? }`: throw it (or any `Error` with a string `code`)
 * to choose the code.
 */
export class MeshError extends Error {
  constructor(
    message: string,
    readonly code: string = ErrorCode.SERVER,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Answered as `EFORBIDDEN`: a guard, middleware or exposure rule said no. */
export class MeshForbiddenError extends MeshError {
  constructor(message = 'Forbidden') {
    super(message, ErrorCode.FORBIDDEN);
    this.name = ErrorName.FORBIDDEN;
  }
}

/** Answered as `EINVALID` with `details`. */
export class MeshValidationError extends MeshError {
  constructor(message = 'Validation failed', details?: unknown) {
    super(message, ErrorCode.INVALID, details);
    this.name = ErrorName.VALIDATION;
  }
}

/** Answered as `ELIMIT`: a per-connection limit (rooms, channels, requests in flight) was reached. */
export class MeshLimitError extends MeshError {
  constructor(message: string) {
    super(message, ErrorCode.LIMIT);
    this.name = ErrorName.LIMIT;
  }

  /** A connection is in the most rooms allowed. */
  static rooms(connectionId: string, maxRooms: number): MeshLimitError {
    return new MeshLimitError(`Connection ${connectionId} is in ${maxRooms} rooms already, the most allowed (maxRoomsPerConnection)`);
  }
}

/** Thrown at start-up for options or registrations that cannot work. */
export class MeshConfigurationError extends MeshError {
  constructor(message: string) {
    super(message, 'ECONFIG');
  }
}
