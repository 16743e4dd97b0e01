import { isValidCloseCode } from '../protocol';

/**
 * What nodes send each other to deliver pushes. Text, not JSON, so the frame (already encoded
 * once by the sender) is passed through without being parsed or encoded again:
 * `<kind>\n<origin node>\n<comma-separated connection ids>\n<frame>`.
 * Kinds: `s` send to the listed ids; `a` send to every local connection except the listed ids;
 * `x` close the listed connections (the frame field holds the close code); `q`/`r` a node-to-node
 * request/reply (the id field holds the request id, the body is JSON); `b` a node broadcast;
 * `m` send to the local members of a room except the listed ids (body: see `encodeRoomBody`);
 * `j`/`l` the listed connection joined/left the room in the body; `c` the room in the body was cleared.
 */
export type EnvelopeKind = 's' | 'a' | 'x' | 'q' | 'r' | 'b' | 'm' | 'j' | 'l' | 'c';

const KINDS = new Set<string>(['s', 'a', 'x', 'q', 'r', 'b', 'm', 'j', 'l', 'c']);

/** A room name and a frame in one body: `<room length>:<room><frame>` (room names may hold any character). */
export function encodeRoomBody(room: string, frame: string): string {
  return `${room.length}:${room}${frame}`;
}

export function decodeRoomBody(body: string): { room: string; frame: string } | undefined {
  const colon = body.indexOf(':');
  const length = Number(body.slice(0, colon));
  if (colon < 1 || !Number.isInteger(length) || length < 1 || colon + 1 + length > body.length) return undefined;
  return { room: body.slice(colon + 1, colon + 1 + length), frame: body.slice(colon + 1 + length) };
}

export interface NodeEnvelope {
  kind: EnvelopeKind;
  origin: string;
  ids: string[];
  body: string;
}

export function encodeEnvelope(kind: EnvelopeKind, origin: string, ids: readonly string[], body: string): string {
  return `${kind}\n${origin}\n${ids.join(',')}\n${body}`;
}

/** Whether the fields of an envelope make sense for its kind (what a handler can act on safely). */
function isWellFormed({ kind, origin, ids, body }: NodeEnvelope): boolean {
  if (!/^\d{1,20}$/.test(origin) || ids.some((id) => id.length === 0)) return false;
  switch (kind) {
    case 'x':
      return ids.length > 0 && isValidCloseCode(Number(body));
    case 'q':
    case 'r':
      return ids.length === 1;
    case 'm':
      return decodeRoomBody(body) !== undefined;
    case 'j':
    case 'l':
    case 'c':
      return body.length > 0;
    default:
      return true;
  }
}

/**
 * Reads an envelope, or undefined when it is not one this node can act on: an unknown kind, a
 * missing field, an origin that is not a node id, a close code outside what a server may send.
 * Node messages arrive from Redis, so they are checked as input, never trusted to be well formed.
 */
export function decodeEnvelope(text: string): NodeEnvelope | undefined {
  const a = text.indexOf('\n');
  const b = text.indexOf('\n', a + 1);
  const c = text.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const kind = text.slice(0, a);
  if (!KINDS.has(kind)) return undefined;
  const idList = text.slice(b + 1, c);
  const envelope: NodeEnvelope = { kind: kind as EnvelopeKind, origin: text.slice(a + 1, b), ids: idList ? idList.split(',') : [], body: text.slice(c + 1) };
  return isWellFormed(envelope) ? envelope : undefined;
}
