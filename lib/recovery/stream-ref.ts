/** A recoverable stream: a channel's or a room's. */
export interface StreamRef {
  kind: 'channel' | 'room';
  name: string;
}

/** One text per stream, for maps: `c:<channel>` or `r:<room>`. */
export function streamKey(stream: StreamRef): string {
  return `${stream.kind === 'channel' ? 'c' : 'r'}:${stream.name}`;
}
