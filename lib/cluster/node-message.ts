import { isValidCloseCode } from '../protocol';

/** The format's version: a node drops messages of any other (and says so in its log). */
export const NODE_MESSAGE_VERSION = 1;

/** What one node asks of another (or of all). */
export const NodeMessageKind = {
  /** Send a frame to the listed connections (of the receiving node). */
  SEND: 'send',
  /** Send a frame to every local connection except the listed ones. */
  BROADCAST: 'broadcast',
  /** Close the listed connections with a code. */
  CLOSE: 'close',
  /** Send a frame to the local members of a room, except the listed connections. */
  ROOM: 'room',
  /** A room was emptied. */
  ROOM_CLEARED: 'room-cleared',
  /** A node-bus request (`NodeBus.request`); the body is JSON. */
  REQUEST: 'request',
  /** The answer to a request; the body is JSON. */
  REPLY: 'reply',
  /** A node-bus broadcast to every node's handlers; the body is JSON. */
  NODE_BROADCAST: 'node-broadcast',
  /** Several node-bus requests and replies for one node, sent together (`NodeOutbox`). */
  BATCH: 'batch',
} as const;

export type NodeMessageKind = (typeof NodeMessageKind)[keyof typeof NodeMessageKind];

/** A node message. `origin` is the sending node's id. Frames are already encoded once by the sender. */
export type NodeMessage =
  | { kind: typeof NodeMessageKind.SEND; origin: string; ids: string[]; frame: string }
  | { kind: typeof NodeMessageKind.BROADCAST; origin: string; exclude: string[]; frame: string }
  | { kind: typeof NodeMessageKind.CLOSE; origin: string; ids: string[]; code: number }
  | { kind: typeof NodeMessageKind.ROOM; origin: string; room: string; exclude: string[]; frame: string }
  | { kind: typeof NodeMessageKind.ROOM_CLEARED; origin: string; room: string }
  | { kind: typeof NodeMessageKind.REQUEST; origin: string; requestId: string; body: string }
  | { kind: typeof NodeMessageKind.REPLY; origin: string; requestId: string; body: string }
  | { kind: typeof NodeMessageKind.NODE_BROADCAST; origin: string; body: string }
  | { kind: typeof NodeMessageKind.BATCH; origin: string; messages: BatchedMessage[] };

/** What a batch may carry: node-bus requests and replies of its own origin. */
export type BatchedMessage = Extract<NodeMessage, { kind: typeof NodeMessageKind.REQUEST | typeof NodeMessageKind.REPLY }>;

export type NodeMessageOf<K extends NodeMessageKind> = Extract<NodeMessage, { kind: K }>;

const KINDS = new Set<string>(Object.values(NodeMessageKind));
const VERSION_TEXT = String(NODE_MESSAGE_VERSION);

/** 1 to 20 decimal digits. */
function isNodeId(text: string): boolean {
  if (text.length === 0 || text.length > 20) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Text, not JSON, so that a frame the sender encoded once is passed through without being parsed
 * and encoded again: `<version> <kind>\n<origin>\n<comma-separated ids>\n<body>`, where the body is
 * the frame, the close code, the room, `<room length>:<room><frame>` for `room`, JSON for the
 * node bus, or `<length>:<message>` for each message of a batch. Connection ids never contain
 * commas (they are UUIDs); room names may hold anything.
 */
export function encodeNodeMessage(message: NodeMessage): string {
  const head = `${NODE_MESSAGE_VERSION} ${message.kind}\n${message.origin}\n`;
  switch (message.kind) {
    case NodeMessageKind.SEND:
      return `${head}${message.ids.join(',')}\n${message.frame}`;
    case NodeMessageKind.BROADCAST:
      return `${head}${message.exclude.join(',')}\n${message.frame}`;
    case NodeMessageKind.CLOSE:
      return `${head}${message.ids.join(',')}\n${message.code}`;
    case NodeMessageKind.ROOM:
      return `${head}${message.exclude.join(',')}\n${message.room.length}:${message.room}${message.frame}`;
    case NodeMessageKind.ROOM_CLEARED:
      return `${head}\n${message.room}`;
    case NodeMessageKind.REQUEST:
    case NodeMessageKind.REPLY:
      return `${head}${message.requestId}\n${message.body}`;
    case NodeMessageKind.NODE_BROADCAST:
      return `${head}\n${message.body}`;
    case NodeMessageKind.BATCH: {
      let body = '';
      for (const inner of message.messages) {
        const text = encodeNodeMessage(inner);
        body += `${text.length}:${text}`;
      }
      return `${head}\n${body}`;
    }
  }
}

/** The messages of a batch body, each checked as a message of its own; a problem fails the whole batch. */
function decodeBatch(origin: string, body: string): NodeMessage | NodeMessageProblem {
  const messages: BatchedMessage[] = [];
  for (let at = 0; at < body.length; ) {
    const colon = body.indexOf(':', at);
    const length = colon > at && colon - at <= 10 ? Number(body.slice(at, colon)) : NaN;
    if (!Number.isInteger(length) || length < 1 || colon + 1 + length > body.length) return { problem: 'a malformed batch body' };
    const inner = decodeNodeMessage(body.slice(colon + 1, colon + 1 + length));
    if (!isNodeMessage(inner)) return { problem: `a batched message: ${inner.problem}` };
    if (inner.kind !== NodeMessageKind.REQUEST && inner.kind !== NodeMessageKind.REPLY) return { problem: `a batched message of kind "${inner.kind}"` };
    if (inner.origin !== origin) return { problem: 'a batched message from another origin' };
    messages.push(inner);
    at = colon + 1 + length;
  }
  return messages.length > 0 ? { kind: NodeMessageKind.BATCH, origin, messages } : { problem: 'an empty batch' };
}

/** Why a text is not a node message this node can act on. */
export type NodeMessageProblem = { problem: string };

/**
 * Reads a node message, checking every field for its kind. Node messages arrive from Redis, so
 * they are input like any other: an unknown version or kind, an origin that is not a node id, an
 * empty id, a close code a server may not send, or a malformed room body is reported, never thrown.
 */
export function decodeNodeMessage(text: string): NodeMessage | NodeMessageProblem {
  const a = text.indexOf('\n');
  const b = text.indexOf('\n', a + 1);
  const c = text.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || c < 0) return { problem: 'not four lines' };
  // Read with indexOf and slice rather than split and a regular expression: every message between
  // nodes (each invoke twice) goes through here.
  const space = text.indexOf(' ');
  const spaced = space >= 0 && space < a;
  const version = text.slice(0, spaced ? space : a);
  if (version !== VERSION_TEXT) return { problem: `version ${JSON.stringify(version)} (this node speaks ${NODE_MESSAGE_VERSION})` };
  const kindEnd = spaced ? text.indexOf(' ', space + 1) : -1;
  const kind = spaced ? text.slice(space + 1, kindEnd < 0 || kindEnd > a ? a : kindEnd) : undefined;
  if (kind === undefined || !KINDS.has(kind)) return { problem: `unknown kind ${JSON.stringify(kind)}` };
  const origin = text.slice(a + 1, b);
  if (!isNodeId(origin)) return { problem: `origin ${JSON.stringify(origin.slice(0, 30))} is not a node id` };
  const list = text.slice(b + 1, c);
  const ids = list === '' ? [] : list.indexOf(',') < 0 ? [list] : list.split(',');
  if (ids.some((id) => id.length === 0)) return { problem: 'an empty connection id' };
  const body = text.slice(c + 1);
  switch (kind) {
    case NodeMessageKind.SEND:
      return ids.length > 0 ? { kind, origin, ids, frame: body } : { problem: 'send to nobody' };
    case NodeMessageKind.BROADCAST:
      return { kind, origin, exclude: ids, frame: body };
    case NodeMessageKind.CLOSE: {
      const code = Number(body);
      if (ids.length === 0) return { problem: 'close of nobody' };
      return isValidCloseCode(code) ? { kind, origin, ids, code } : { problem: `close code ${JSON.stringify(body.slice(0, 20))}` };
    }
    case NodeMessageKind.ROOM: {
      const colon = body.indexOf(':');
      const length = Number(body.slice(0, colon));
      if (colon < 1 || !Number.isInteger(length) || length < 1 || colon + 1 + length > body.length) return { problem: 'a malformed room body' };
      return { kind, origin, exclude: ids, room: body.slice(colon + 1, colon + 1 + length), frame: body.slice(colon + 1 + length) };
    }
    case NodeMessageKind.ROOM_CLEARED:
      return body.length > 0 ? { kind, origin, room: body } : { problem: 'room-cleared without a room' };
    case NodeMessageKind.REQUEST:
    case NodeMessageKind.REPLY:
      return ids.length === 1 ? { kind, origin, requestId: ids[0], body } : { problem: `${kind} without one request id` };
    case NodeMessageKind.BATCH:
      return decodeBatch(origin, body);
    default:
      return { kind: NodeMessageKind.NODE_BROADCAST, origin, body };
  }
}

export function isNodeMessage(value: NodeMessage | NodeMessageProblem): value is NodeMessage {
  return 'kind' in value;
}
