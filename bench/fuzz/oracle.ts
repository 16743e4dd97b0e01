/**
 * What the server owes each frame, from PROTOCOL.md and the limits it documents, worked out from
 * the bytes alone as a client would (no server code runs here):
 * - a frame whose id is readable (a JSON object with a finite number id, or a string id of at
 *   most 200 UTF-16 units) gets exactly one reply carrying that id, except the three commands a
 *   server never answers (`pong`, `latency:response`, `<p>/invoke-result`) when the frame is
 *   otherwise acceptable;
 * - a frame refused at the edge (binary, over `maxPayload`, a payload nested past `maxDepth` with
 *   the frame object as level 1, no string command, command name too long) is answered with an
 *   error like any request, whatever its command: it is not a heartbeat if the server cannot
 *   take it. One exception: a refused invoke answer is never answered (its id is the server's
 *   own); it fails the server's pending invoke instead;
 * - a frame with no readable id gets one `<p>/error` push, except an acceptable heartbeat.
 */

export interface Limits {
  prefix: string;
  maxPayload: number;
  maxDepth: number;
  maxNameLength: number;
  /** Frames per second of the rate limit (its bucket also holds this many). */
  rateLimit: number;
}

export interface Expectation {
  /** `JSON.stringify` of the id the reply must carry (undefined: no reply is owed). */
  replyKey?: string;
  /** The frame's command, when it has a string one (a reply echoes it, or says `<p>/error`). */
  command?: string;
  /** The command its reply must name: its own, or `<p>/error` when it was refused at the edge. */
  replyCommand?: string;
  /** The error codes a refusal may carry (undefined: it was not refused). */
  refusalCodes?: string[];
  /** 1 if the server must push one `<p>/error` for this frame. */
  errorPush: 0 | 1;
}

export const MAX_ID_LENGTH = 200;

/** Nesting of a JSON value: 0 for a scalar, 1 for `[]` or `{}`, 2 for `[[]]`... */
export function depthOf(value: unknown): number {
  // Iterative: a 20,000-deep value would overflow a recursive walk.
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > max) max = d + 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function readableId(value: unknown): value is number | string {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= MAX_ID_LENGTH);
}

export function expectationOf(data: string | Buffer, binary: boolean, limits: Limits): Expectation {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  // A receiver decodes invalid UTF-8 (in a binary frame) with replacement characters.
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let frame: Record<string, unknown> | undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) frame = value as Record<string, unknown>;
  } catch {
    frame = undefined;
  }
  const id = frame && Object.prototype.hasOwnProperty.call(frame, 'id') ? frame.id : undefined;
  const hasReadableId = readableId(id);
  const command = typeof frame?.command === 'string' ? frame.command : undefined;
  const tooDeep = frame !== undefined && depthOf(frame.payload) > limits.maxDepth - 1;
  const refused = binary || bytes > limits.maxPayload || !frame || !command || tooDeep || command.length > limits.maxNameLength;
  const heartbeat = command === 'pong' || command === 'latency:response';
  const invokeResult = command === `${limits.prefix}/invoke-result`;
  if (hasReadableId) {
    const unanswered = invokeResult || (heartbeat && !refused);
    if (unanswered) return { command, errorPush: 0 };
    // A binary frame over the limit is refused for either reason.
    const refusalCodes = !refused ? undefined : bytes > limits.maxPayload ? (binary ? ['EBADFRAME', 'ETOOLARGE'] : ['ETOOLARGE']) : ['EBADFRAME'];
    return { replyKey: JSON.stringify(id), command, replyCommand: refused ? `${limits.prefix}/error` : command, refusalCodes, errorPush: 0 };
  }
  // An id that is there but not readable refuses the frame; a missing id is only fine for a heartbeat.
  const acceptedHeartbeat = !refused && id === undefined && heartbeat;
  return { command, errorPush: acceptedHeartbeat ? 0 : 1 };
}
