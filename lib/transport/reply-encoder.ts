import { encodeFrame, ErrorCode, ErrorName, type ErrorPayload, type FrameId } from '../protocol';

/** Room left for a reply's id and command when only its payload is measured. */
const REPLY_ENVELOPE_BYTES = 1024;

/** The UTF-8 size of `text` when it is over `maxBytes`, else undefined (a UTF-16 unit takes at most 3 bytes: only a long text needs counting). */
function bytesOver(text: string, maxBytes: number): number | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text);
  return bytes > maxBytes ? bytes : undefined;
}

const tooLarge = (bytes: number, maxBytes: number, consequence = ''): ErrorPayload => ({
  error: `The reply of ${bytes} bytes is over the connection's limit of ${maxBytes} bytes${consequence}`,
  code: ErrorCode.TOO_LARGE,
  name: ErrorName.PROTOCOL,
});

/**
 * For a command that changed something and lists what it found (a join's members, a
 * subscription's history): the ETOOLARGE error its reply would get from `encodeReply`, so that it
 * can undo the change first, or undefined when the reply fits. A payload JSON cannot encode is left
 * to `encodeReply` to report.
 */
export function tooLargeToReply(payload: unknown, maxBytes: number): ErrorPayload | undefined {
  let text: string;
  try {
    text = JSON.stringify(payload) ?? '';
  } catch {
    return undefined;
  }
  const bytes = bytesOver(text, maxBytes - REPLY_ENVELOPE_BYTES);
  return bytes === undefined ? undefined : tooLarge(bytes, maxBytes, '; nothing was changed');
}

/** Why a reply could not be sent as the handler returned it. */
export type ReplyProblem = { kind: 'unencodable'; error: Error } | { kind: 'too-large'; bytes: number };

/**
 * The reply frame to a request: `{ id, command, payload }` (no `payload` key for `undefined`).
 * A result that JSON cannot encode (a BigInt, a cycle, nesting deep enough to overflow the
 * stack) becomes an `ESERVER` reply, and one over `maxBytes` (it could never leave the buffer
 * limit) an `ETOOLARGE` reply; `onProblem` hears about either. Never throws.
 */
export function encodeReply(id: FrameId, command: string, payload: unknown, maxBytes: number, onProblem: (problem: ReplyProblem) => void): string {
  let text: string;
  try {
    text = encodeFrame(payload === undefined ? { id, command } : { id, command, payload });
  } catch (error) {
    onProblem({ kind: 'unencodable', error: error as Error });
    return encodeFrame({ id, command, payload: { error: 'The reply could not be encoded as JSON', code: ErrorCode.SERVER, name: 'EncodeError' } });
  }
  const bytes = bytesOver(text, maxBytes);
  if (bytes === undefined) return text;
  onProblem({ kind: 'too-large', bytes });
  return encodeFrame({ id, command, payload: tooLarge(bytes, maxBytes) });
}
