import { encodeFrame, ErrorCode, ErrorName, type FrameId } from '../protocol';

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
  // A UTF-16 unit takes at most 3 bytes: only a long text needs counting.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) {
      onProblem({ kind: 'too-large', bytes });
      return encodeFrame({
        id,
        command,
        payload: { error: `The reply of ${bytes} bytes is over the connection's limit of ${maxBytes} bytes`, code: ErrorCode.TOO_LARGE, name: ErrorName.PROTOCOL },
      });
    }
  }
  return text;
}
