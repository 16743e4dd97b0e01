/**
 * The Mesh wire protocol (v1): frame shapes and the codec. No dependencies, so the client can
 * import this file in a browser. See PROTOCOL.md for the contract.
 */

/** A request id: opaque to the server, unique among a connection's in-flight requests. */
export type FrameId = number | string;

/** One JSON object per text frame, in both directions. */
export interface Frame<P = unknown> {
  id?: FrameId;
  command: string;
  payload?: P;
}

/** The payload of an error reply (the reference clients resolve with it). */
export interface ErrorPayload {
  error: string;
  code: string;
  name: string;
  /** Validation messages, for `EINVALID`. */
  details?: unknown;
}

/** Application-level heartbeat commands; never prefixed. */
export const HeartbeatCommand = {
  PING: 'ping',
  PONG: 'pong',
  LATENCY: 'latency',
  LATENCY_REQUEST: 'latency:request',
  LATENCY_RESPONSE: 'latency:response',
} as const;

/** WebSocket close codes with a meaning in this protocol. */
export const CloseCode = {
  NORMAL: 1000,
  /** The node is shutting down: reconnect, possibly to another node. */
  GOING_AWAY: 1001,
  /** The connection could not keep up with what it was sent. */
  SLOW_CONSUMER: 1008,
  /** A frame larger than four times the server's `maxPayload`. */
  TOO_BIG: 1009,
  /** The node was fenced off by the cluster: reconnect (to any node). */
  SERVICE_RESTART: 1012,
  /** Too many unanswered pings. */
  PONG_TIMEOUT: 4000,
  /** The same client id connected again elsewhere; this socket must not reconnect. */
  SUPERSEDED: 4001,
} as const;

/** The default built-in command prefix (`rt` makes `@prsm/realtime` clients work). */
export const DEFAULT_PREFIX = 'mesh';

/** Names of the built-in commands and pushes for one prefix. */
export interface BuiltinCommands {
  assignId: string;
  noop: string;
  error: string;
  subscribeChannel: string;
  unsubscribeChannel: string;
  getChannelHistory: string;
  subscriptionMessage: string;
  joinRoom: string;
  leaveRoom: string;
  getRoomMetadata: string;
  getMyConnectionMetadata: string;
  setMyConnectionMetadata: string;
  getConnectionMetadata: string;
  invoke: string;
  invokeResult: string;
}

export function builtinCommands(prefix: string = DEFAULT_PREFIX): BuiltinCommands {
  const p = `${prefix}/`;
  return {
    assignId: `${p}assign-id`,
    noop: `${p}noop`,
    error: `${p}error`,
    subscribeChannel: `${p}subscribe-channel`,
    unsubscribeChannel: `${p}unsubscribe-channel`,
    getChannelHistory: `${p}get-channel-history`,
    subscriptionMessage: `${p}subscription-message`,
    joinRoom: `${p}join-room`,
    leaveRoom: `${p}leave-room`,
    getRoomMetadata: `${p}get-room-metadata`,
    getMyConnectionMetadata: `${p}get-my-connection-metadata`,
    setMyConnectionMetadata: `${p}set-my-connection-metadata`,
    getConnectionMetadata: `${p}get-connection-metadata`,
    invoke: `${p}invoke`,
    invokeResult: `${p}invoke-result`,
  };
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorPayload).error === 'string' &&
    typeof (value as ErrorPayload).code === 'string'
  );
}

export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/** The result of decoding one inbound text frame. */
export type DecodeResult =
  | { ok: true; frame: Frame }
  | { ok: false; id?: FrameId; reason: string };

function isFrameId(value: unknown): value is FrameId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Parses a text frame. Never throws: anything that is not a JSON object with a string `command`
 * is reported with the reason and, where one could be read, the frame's id.
 */
export function decodeFrame(text: string): DecodeResult {
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
    return { ok: false, reason: 'Frame "id" must be a number or a string' };
  }
  if (typeof raw.command !== 'string' || raw.command.length === 0) {
    return { ok: false, id, reason: 'Frame has no string "command"' };
  }
  return { ok: true, frame: { id, command: raw.command, payload: raw.payload } };
}

/**
 * Reads the id of a frame too large to parse, from its first bytes only. The reference
 * clients write `id` first (`{"id":123,"command":...`); anything else yields undefined.
 */
export function peekFrameId(head: string): FrameId | undefined {
  const match = /^\s*\{\s*"id"\s*:\s*(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.){0,200}")/.exec(head.slice(0, 256));
  if (!match) return undefined;
  const token = match[1];
  if (token.startsWith('"')) {
    try {
      return JSON.parse(token) as string;
    } catch {
      return undefined;
    }
  }
  return Number(token);
}
