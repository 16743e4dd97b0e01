/**
 * The Mesh wire protocol (v1): the frame shape and its codec. No dependencies, so the client can
 * import it in a browser. See docs/protocol.md for the contract.
 */

/** A request id: opaque to the server, unique among a connection's in-flight requests. */
export type FrameId = number | string;

/** One JSON object per text frame, in both directions. */
export interface Frame<P = unknown> {
  id?: FrameId;
  command: string;
  payload?: P;
  /** Server pushes of a recoverable room: where the push is in the room's stream (see docs/protocol.md). */
  position?: unknown;
  /** Requests to an idempotent command: the key that makes a retry run it at most once (see docs/protocol.md). */
  idempotencyKey?: string;
}

/** The deepest nesting of objects and arrays accepted in a frame from a client, by default. */
export const DEFAULT_MAX_DEPTH = 64;

export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/** The result of decoding one inbound text frame. */
export type DecodeResult =
  | { ok: true; frame: Frame }
  | { ok: false; id?: FrameId; command?: string; reason: string };

/** Longest string id accepted in a frame (ids are echoed back in replies). */
export const MAX_ID_LENGTH = 200;

/** Longest idempotency key accepted in a request. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/** 1 to 128 visible ASCII characters: what fits a log line and a header, with nothing to escape. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** Whether a value can be a request's `idempotencyKey`. */
export function isIdempotencyKey(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_IDEMPOTENCY_KEY_LENGTH && IDEMPOTENCY_KEY.test(value);
}

function isFrameId(value: unknown): value is FrameId {
  return (typeof value === 'string' && value.length <= MAX_ID_LENGTH) || (typeof value === 'number' && Number.isFinite(value));
}

/** True when `value` nests objects and arrays more than `limit` levels deep. */
function deeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (deeperThan(item, limit - 1)) return true;
    return false;
  }
  for (const key in value) if (deeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  return false;
}

/**
 * Parses a text frame. Never throws: anything that is not a JSON object with a string `command`,
 * or that nests deeper than `maxDepth` levels (the frame object is level 1), is reported with the
 * reason and, where one could be read, the frame's id. Bounding the depth at the edge keeps a
 * hostile value from reaching code that recurses over it (`JSON.stringify` overflows its stack).
 */
export function decodeFrame(text: string, maxDepth: number = DEFAULT_MAX_DEPTH): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'Frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'Frame is not a JSON object' };
  }
  const raw = value as Record<string, unknown>;
  const id = isFrameId(raw.id) ? raw.id : undefined;
  if (raw.id !== undefined && id === undefined) {
    return { ok: false, reason: `Frame "id" must be a number or a string of at most ${MAX_ID_LENGTH} characters` };
  }
  if (typeof raw.command !== 'string' || raw.command.length === 0) {
    return { ok: false, id, reason: 'Frame has no string "command"' };
  }
  // A text shorter than two characters per level cannot nest that deep: skip the walk.
  if (text.length > 2 * maxDepth && deeperThan(raw.payload, maxDepth - 1)) {
    return { ok: false, id, command: raw.command, reason: `Frame nests deeper than ${maxDepth} levels` };
  }
  const frame: Frame = { id, command: raw.command, payload: raw.payload };
  if (raw.position !== undefined) frame.position = raw.position;
  if (raw.idempotencyKey !== undefined) {
    if (!isIdempotencyKey(raw.idempotencyKey)) {
      return { ok: false, id, command: raw.command, reason: `Frame "idempotencyKey" must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (no spaces)` };
    }
    frame.idempotencyKey = raw.idempotencyKey;
  }
  return { ok: true, frame };
}

/** Longest command name read from a frame too large to parse (longer ones are not echoed anyway). */
const MAX_PEEKED_COMMAND = 1024;

/** The index just past the JSON string that opens at `start` (a `"`), or -1. Jumps from quote to quote. */
function stringEnd(text: string, start: number): number {
  for (let quote = text.indexOf('"', start + 1); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return -1;
}

/** The index just past the JSON value that starts at `start`, without parsing it, or -1. */
function valueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        const end = stringEnd(text, i);
        if (end < 0) return -1;
        i = end - 1;
      } else if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
    }
    return -1;
  }
  let i = start;
  while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++;
  return i > start ? i : -1;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  return i;
}

function parseToken(token: string): unknown {
  try {
    return JSON.parse(token);
  } catch {
    return undefined;
  }
}

/**
 * Reads the top-level `id` and `command` of a frame too large to parse: it walks the object's
 * keys and skips their values without decoding them (strings by jumping from quote to quote), so
 * it costs far less than `JSON.parse` and allocates almost nothing. As in JSON, the last of
 * duplicate keys wins. What cannot be read (malformed text, an id of the wrong kind) is left out.
 */
export function peekFrame(text: string): { id?: FrameId; command?: string } {
  const found: { id?: FrameId; command?: string } = {};
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return found;
  i++;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] !== '"') return found;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return found;
    const key = keyEnd - i <= 16 ? parseToken(text.slice(i, keyEnd)) : undefined;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') return found;
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    if (end < 0) return found;
    if (key === 'id') {
      // An escaped string id takes up to 6 characters per character it decodes to.
      const value = end - i <= 6 * MAX_ID_LENGTH + 2 ? parseToken(text.slice(i, end)) : undefined;
      found.id = isFrameId(value) ? value : undefined;
    } else if (key === 'command') {
      const value = end - i <= MAX_PEEKED_COMMAND ? parseToken(text.slice(i, end)) : undefined;
      found.command = typeof value === 'string' ? value : undefined;
    }
    i = skipSpace(text, end);
    if (text[i] !== ',') return found;
    i++;
  }
}
