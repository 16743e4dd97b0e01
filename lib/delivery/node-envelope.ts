/**
 * What nodes send each other to deliver pushes. Text, not JSON, so the frame (already encoded
 * once by the sender) is passed through without being parsed or encoded again:
 * `<kind>\n<origin node>\n<comma-separated connection ids>\n<frame>`.
 * Kinds: `s` send to the listed ids; `a` send to every local connection except the listed ids;
 * `x` close the listed connections (the frame field holds the close code); `q`/`r` a node-to-node
 * request/reply (the id field holds the request id, the body is JSON); `b` a node broadcast.
 */
export type EnvelopeKind = 's' | 'a' | 'x' | 'q' | 'r' | 'b';

const KINDS = new Set<string>(['s', 'a', 'x', 'q', 'r', 'b']);

export interface NodeEnvelope {
  kind: EnvelopeKind;
  origin: string;
  ids: string[];
  body: string;
}

export function encodeEnvelope(kind: EnvelopeKind, origin: string, ids: readonly string[], body: string): string {
  return `${kind}\n${origin}\n${ids.join(',')}\n${body}`;
}

export function decodeEnvelope(text: string): NodeEnvelope | undefined {
  const a = text.indexOf('\n');
  const b = text.indexOf('\n', a + 1);
  const c = text.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const kind = text.slice(0, a);
  if (!KINDS.has(kind)) return undefined;
  const idList = text.slice(b + 1, c);
  return { kind: kind as EnvelopeKind, origin: text.slice(a + 1, b), ids: idList ? idList.split(',') : [], body: text.slice(c + 1) };
}
