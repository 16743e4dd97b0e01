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
  return { ok: true, frame: { id, command: raw.command, payload: raw.payload } };
}

const ID_TOKEN = `(-?\\d+(?:\\.\\d+)?|"(?:[^"\\\\]|\\\\.){0,${MAX_ID_LENGTH}}")`;
/** `{"id":<id>` or `{"command":"<name>","id":<id>` at the start of a frame. */
const ID_AT_START = new RegExp(`^\\s*\\{\\s*(?:"command"\\s*:\\s*"(?:[^"\\\\]|\\\\.){0,256}"\\s*,\\s*)?"id"\\s*:\\s*${ID_TOKEN}`);
/** `,"id":<id>}` closing a frame (an id nested in the payload would be followed by more than one `}`). */
const ID_AT_END = new RegExp(`,\\s*"id"\\s*:\\s*${ID_TOKEN}\\s*\\}\\s*$`);

function idToken(token: string): FrameId | undefined {
  if (!token.startsWith('"')) return Number(token);
  try {
    return JSON.parse(token) as string;
  } catch {
    return undefined;
  }
}

/**
 * Reads the id of a frame too large to parse from its first and last bytes only (`head`, `tail`):
 * the id written first (`{"id":123,"command":...`, as the reference clients do), right after the
 * command, or last (`...,"id":123}`). Anything else yields undefined.
 */
export function peekFrameId(head: string, tail = ''): FrameId | undefined {
  const start = ID_AT_START.exec(head.slice(0, 512));
  if (start) return idToken(start[1]);
  const end = ID_AT_END.exec(tail.slice(-512));
  return end ? idToken(end[1]) : undefined;
}
