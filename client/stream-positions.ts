/** Where a client is in a recoverable channel's or room's stream. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A position as the server sends it (in a message or a reply), if it is one. */
export function readPosition(value: unknown): StreamPosition | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { epoch, offset } = value as Record<string, unknown>;
  return typeof epoch === 'string' && typeof offset === 'number' && Number.isSafeInteger(offset) ? { epoch, offset } : undefined;
}

/**
 * The last offset delivered per recoverable subscription (`c:<channel>`, `r:<room>`): sent back
 * on reconnect so the server replays what was missed, and used to drop a message delivered
 * already, so each reaches the callbacks once.
 */
export class StreamPositions {
  private readonly positions = new Map<string, StreamPosition>();

  get(key: string): StreamPosition | undefined {
    return this.positions.get(key);
  }

  /**
   * A message at `position`: true if it is new (and it becomes the last delivered), false if it
   * was delivered already. A new epoch means the stream's history was lost: offsets restart.
   */
  advance(key: string, position: StreamPosition): boolean {
    const current = this.positions.get(key);
    if (current && current.epoch === position.epoch && position.offset <= current.offset) return false;
    this.positions.set(key, position);
    return true;
  }

  /**
   * A reply said where the stream is: messages up to there are behind the client (replayed before
   * the reply, or published before it subscribed). A later message delivered already stays the last.
   * True when the epoch changed from the one the client had.
   */
  settle(key: string, position: StreamPosition): boolean {
    const current = this.positions.get(key);
    if (current && current.epoch === position.epoch) {
      if (position.offset > current.offset) this.positions.set(key, position);
      return false;
    }
    this.positions.set(key, position);
    return current !== undefined;
  }

  delete(key: string): void {
    this.positions.delete(key);
  }
}
